import EBPFCollection
import EBPFLink
import EBPFSys
import Glibc
import Testing
import TestSupport

/// A collection load (BTF, maps, a pin, programs) with each system call failing in turn: a typed
/// error, no descriptor left open, no pin left behind, and a pin the load did not make kept.
extension LoaderSuites {
    @Suite(
        "Load fault injection", .checksFileDescriptorLeaks,
        .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    struct LoadFaultInjectionTests {
        /// `EINTR` from bpf(2) is retried by the choke point, so such a fault never fails a load.
        /// A load may survive other failures too: an optional step (a feature probe, a BTF
        /// fix-up) or a program load, which the loader repeats with a verifier log to report why
        /// it failed; never a failed map creation.
        static func check(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
            switch outcome.result {
            case .success:
                if outcome.fault.errno == .interrupted, case .bpf = outcome.fault.call { return }
                if case .bpf(.mapCreate) = outcome.fault.call {
                    Issue.record("\(outcome.fault): the load succeeded anyway", sourceLocation: sourceLocation)
                }
            case .failure(let error):
                outcome.expectInterruptRetried(sourceLocation: sourceLocation)
                #expect(error is CollectionError, "\(outcome.fault): threw \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            }
        }

        @Test("maps, a pin and programs: every call failing in turn leaves no pin")
        func loadWithPinSweep() async throws {
            let directory = try makePinDirectory("issue16_faults")
            defer { removePinDirectory(directory) }
            let spec = try testdataSpec("maps_btf")
            var options = CollectionOptions()
            options.pinPath = directory
            let summary = try await FaultInjection.sweep {
                try LoadedCollection(spec: spec, options: options)
            } release: { collection in
                collection.close()
                for name in directoryEntries(directory) { unlink(directory + "/" + name) }
            } check: { outcome in
                Self.check(outcome)
                if case .failure = outcome.result {
                    #expect(directoryEntries(directory).isEmpty, "\(outcome.fault): left pins \(directoryEntries(directory))")
                }
            }
            let commands = summary.calls.compactMap { call -> BPFCommand? in
                if case .bpf(let command) = call { return command }
                return nil
            }
            #expect(commands.filter { $0 == .mapCreate }.count >= 3, "\(summary)")
            #expect(commands.contains(.objPin), "\(summary)")
            #expect(commands.contains(.progLoad), "\(summary)")
        }

        @Test("map-in-map, program array and tail calls: every call failing in turn")
        func nestedMapsSweep() async throws {
            var spec = try testdataSpec("maps_nested")
            spec.maps["sized"]?.flags.remove(.numaNode)
            let summary = try await FaultInjection.sweep {
                try LoadedCollection(spec: spec)
            } release: { collection in
                collection.close()
            } check: { outcome in
                Self.check(outcome)
            }
            #expect(summary.calls.filter { $0 == .bpf(.mapCreate) }.count >= 5, "\(summary)")
            #expect(summary.calls.contains(.bpf(.mapUpdateElem)), "\(summary)")
        }

        @Test("a pinned map the load reuses survives every failure")
        func reusedPinSurvivesSweep() async throws {
            let directory = try makePinDirectory("issue16_reuse")
            defer { removePinDirectory(directory) }
            let spec = try testdataSpec("maps_btf")
            var options = CollectionOptions()
            options.pinPath = directory
            let first = try LoadedCollection(spec: spec, options: options)
            let pinnedID = try first.map("pinned_lru").info().id
            first.close()
            let summary = try await FaultInjection.sweep {
                try LoadedCollection(spec: spec, options: options)
            } release: { collection in
                let id = try collection.map("pinned_lru").info().id
                #expect(id == pinnedID)
                collection.close()
            } check: { outcome in
                Self.check(outcome)
                #expect(directoryEntries(directory) == ["pinned_lru"], "\(outcome.fault)")
                let reopened = try Map(pinnedAt: directory + "/pinned_lru")
                let id = try reopened.info().id
                #expect(id == pinnedID, "\(outcome.fault): the pin now holds another map")
                try reopened.close()
            }
            #expect(summary.calls.contains(.bpf(.objGet)), "\(summary)")
        }
    }
}

extension LoaderSuites {
    @Suite(
        "struct_ops fault injection", .checksFileDescriptorLeaks, .requires(.structOpsLinks),
        .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
    struct StructOpsFaultInjectionTests {
        /// A loaded tcp_ca collection and the link that registers its table.
        final class Registered {
            let collection: LoadedCollection
            let link: StructOpsLink

            init(spec: CollectionSpec) throws {
                collection = try LoadedCollection(spec: spec)
                do {
                    link = try StructOps.attach(map: try collection.map("swift_ca"))
                } catch {
                    collection.close()
                    throw error
                }
            }

            func close() throws {
                try link.close()
                collection.close()
            }
        }

        @Test("tcp_ca: load and register with every call failing in turn")
        func congestionControlSweep() async throws {
            guard KernelFeature.structOpsLinks.check() else { return }
            let name = "i16_ca_\(getpid() % 100_000)"
            let spec = try congestionControlSpec(named: name)
            let summary = try await FaultInjection.sweep {
                try Registered(spec: spec)
            } release: { registered in
                try registered.close()
            } check: { outcome in
                switch outcome.result {
                case .success:
                    if outcome.fault.errno == .interrupted, case .bpf = outcome.fault.call { break }
                    if case .bpf(let command) = outcome.fault.call, command == .mapCreate || command == .linkCreate {
                        Issue.record("\(outcome.fault): the registration succeeded anyway")
                    }
                case .failure(let error):
                    outcome.expectInterruptRetried()
                    #expect(error is CollectionError || error is LinkError, "\(outcome.fault): threw \(type(of: error)): \(error)")
                    #expect(!congestionControls("available").contains(name), "\(outcome.fault): the table stayed registered")
                }
            }
            #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
            #expect(summary.calls.contains(.bpf(.mapUpdateElem)), "\(summary)")
        }
    }
}
