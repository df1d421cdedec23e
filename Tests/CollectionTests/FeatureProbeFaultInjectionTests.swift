import EBPFSys
import Testing
import TestSupport

@testable import EBPFCollection

/// The feature probes that open more than one descriptor (a map of maps and its inner map, a
/// local storage map and its BTF, the uprobe.multi program and its link), called below their
/// memo with each call failing in turn: no descriptor left open, and a failure that is not the
/// kernel's answer (EPERM, ENOMEM) is `probeFailed` naming the errno, never "not supported".
@Suite(
    "Feature probe fault injection", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct FeatureProbeFaultInjectionTests {
    static func check(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        outcome.expectInterruptRetried(sourceLocation: sourceLocation)
        guard case .failure(let error) = outcome.result else { return }
        guard case .probeFailed(_, let syscallError)? = error as? FeatureProbeError else {
            Issue.record("\(outcome.fault): \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(syscallError.errno == outcome.fault.errno, "\(outcome.fault): \(error)", sourceLocation: sourceLocation)
    }

    @Test("map probes with a second descriptor: every call failing in turn", arguments: [MapType.hashOfMaps, .arrayOfMaps, .skStorage])
    func mapProbeSweep(type: MapType) async throws {
        let summary = try await FaultInjection.sweep {
            try BPFFeatures.probeMapType(type)
        } release: {
        } check: { outcome in
            Self.check(outcome)
        }
        #expect(summary.calls.count == 2, "\(summary)")
    }

    @Test("uprobe.multi probe: every call failing in turn", .requires(.uprobeMulti))
    func uprobeMultiProbeSweep() async throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let summary = try await FaultInjection.sweep {
            try BPFFeatures.probeUprobeMulti()
        } release: {
        } check: { outcome in
            Self.check(outcome)
        }
        #expect(summary.calls.contains(.bpf(.linkCreate)), "\(summary)")
    }
}

/// `Map(spec:)` of a map of maps (the inner map template and the outer map) with contents and
/// freezing, each call failing in turn: a ``MapError`` naming the errno, nothing left open.
@Suite(
    "Map creation fault injection", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct MapCreationFaultInjectionTests {
    @Test("a hash of maps and a frozen array with contents: every call failing in turn")
    func mapSweep() async throws {
        let inner = MapSpec(name: "i16_inner", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
        let specs = [
            MapSpec(name: "i16_outer", type: .hashOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner),
            MapSpec(
                name: "i16_frozen", type: .array, keySize: 4, valueSize: 4, maxEntries: 2,
                contents: [MapEntry(key: [1, 0, 0, 0], value: .bytes([7, 0, 0, 0]))], freeze: true),
        ]
        for spec in specs {
            let summary = try await FaultInjection.sweep {
                try Map(spec: spec)
            } release: { map in
                try map.close()
            } check: { outcome in
                outcome.expectInterruptRetried()
                guard case .failure(let error) = outcome.result else { return }
                guard let mapError = error as? MapError else {
                    Issue.record("\(outcome.fault): \(type(of: error)): \(error)")
                    return
                }
                #expect(mapError.description.contains(outcome.fault.errno.description), "\(outcome.fault): \(mapError)")
            }
            #expect(summary.calls.count >= 2, "\(spec.name): \(summary)")
        }
    }
}
