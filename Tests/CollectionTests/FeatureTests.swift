import EBPFCollection
import EBPFSys
import Testing
import TestSupport

@Suite("Feature probes", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct FeatureTests {
    @Test func commonMapTypesAreSupported() throws {
        for type in [MapType.hash, .array, .percpuHash, .lruHash, .lpmTrie, .queue, .ringbuf, .arrayOfMaps, .progArray] {
            #expect(try BPFFeatures.isSupported(type), "\(type)")
        }
        // Every map type the test kernel has, but the arena: whether one can be created differs
        // between machines of one kind (see arenaMapsAreSupported).
        for raw in UInt32(1)...TestKernel.current.newestMapType where raw != MapType.arena.rawValue {
            let type = MapType(rawValue: raw)
            #expect(throws: Never.self, "\(type)") { try BPFFeatures.checkMapType(type) }
        }
    }

    @Test func mapTypesNewerThanTheKernelAreNotSupported() throws {
        let newest = TestKernel.current.newestMapType
        for raw in UInt32(1)...MapType.arena.rawValue where raw > newest {
            let type = MapType(rawValue: raw)
            let error = #expect(throws: FeatureProbeError.self, "\(type)") { try BPFFeatures.checkMapType(type) }
            #expect(error?.unsupportedFeature?.minimumKernelVersion == type.minimumKernelVersion, "\(type)")
        }
    }

    @Test(.requires(.arenaMaps)) func arenaMapsAreSupported() throws {
        guard KernelFeature.arenaMaps.check() else { return }
        #expect(throws: Never.self) { try BPFFeatures.checkMapType(.arena) }
    }

    /// Where creating an arena is refused with EPERM (the kernel has arenas; see ``TestKernel``),
    /// the probe must not claim the type is missing, and must ask again next time.
    @Test(.lacks(.arenaMaps)) func arenaProbeReportsARefusalAsAFailedProbe() throws {
        let raw = Result { () throws(BPFSyscallError) in
            _ = try Sys.createMap(
                type: MapType.arena.rawValue, keySize: 0, valueSize: 0, maxEntries: 1, flags: MapFlags.mmapable.rawValue)
        }
        guard case .failure(let refusal) = raw else {
            Issue.record("creating an arena map succeeded although the test kernel lacks them")
            return
        }
        for _ in 0..<2 {
            let error = #expect(throws: FeatureProbeError.self) { try BPFFeatures.checkMapType(.arena) }
            switch (refusal.errno, error) {
            case (.invalidArgument, .unsupported(let missing)?):
                #expect(missing.minimumKernelVersion == "6.9")
            case (let errno, .probeFailed(_, let cause)?) where errno != .invalidArgument:
                #expect(cause.errno == errno)
            default:
                Issue.record("BPF_MAP_CREATE failed with \(refusal.errno), the probe said \(String(describing: error))")
            }
        }
    }

    @Test func nonsenseMapTypeIsNotSupported() throws {
        let type = MapType(rawValue: 4000)
        #expect(try BPFFeatures.isSupported(type) == false)
        let error = #expect(throws: FeatureProbeError.self) { try BPFFeatures.checkMapType(type) }
        let missing = try #require(error?.unsupportedFeature)
        #expect(missing.feature == "BPF_MAP_TYPE_(4000)")
        #expect(missing.minimumKernelVersion == nil)
        #expect(missing.description == "BPF_MAP_TYPE_(4000) is not supported by this kernel")
        // Memoised: the same answer again.
        #expect(try BPFFeatures.isSupported(type) == false)
    }

    @Test func programTypes() throws {
        var types = [ProgramType.socketFilter, .xdp, .schedCls, .tracepoint, .cgroupSKB, .cgroupSockAddr, .skLookup,
                     .rawTracepoint, .cgroupSockopt, .syscall, .structOps]
        // Netfilter programs came with netfilter links (Linux 6.4).
        if KernelFeature.netfilterLinks.probe.present || TestKernel.current.expects(.netfilterLinks) {
            types.append(.netfilter)
        }
        for type in types {
            #expect(throws: Never.self, "\(type)") { try BPFFeatures.checkProgramType(type) }
        }
        // Where tracing programs load, the probes must say so. Where they do not (the host runs
        // with lockdown in integrity mode), the kernel refuses programs that attach to kernel
        // functions with EPERM before the verifier says anything: the probe cannot tell, and must
        // say so rather than claim the type is missing.
        let tracing = KernelFeature.tracingPrograms.probe
        for type in [ProgramType.tracing, .lsm, .ext] {
            if tracing.present {
                #expect(throws: Never.self, "\(type): \(tracing.finding)") { try BPFFeatures.checkProgramType(type) }
                continue
            }
            let error = #expect(throws: FeatureProbeError.self, "\(type): \(tracing.finding)") {
                try BPFFeatures.checkProgramType(type)
            }
            guard case .probeFailed(_, let cause)? = error else {
                Issue.record("\(type): \(String(describing: error))")
                continue
            }
            #expect(cause.errno == .notPermitted, "\(type)")
        }
        #expect(try BPFFeatures.isSupported(ProgramType(rawValue: 999)) == false)
    }

    @Test func helpers() throws {
        #expect(try BPFFeatures.isHelperSupported(.mapLookupElem, in: .socketFilter))
        #expect(try BPFFeatures.isHelperSupported(.ringbufOutput, in: .xdp))
        #expect(try BPFFeatures.isHelperSupported(.redirect, in: .socketFilter) == false)
        let error = #expect(throws: FeatureProbeError.self) { try BPFFeatures.checkHelper(.redirect, in: .socketFilter) }
        #expect(error?.unsupportedFeature?.feature == "helper bpf_redirect#23 in BPF_PROG_TYPE_SOCKET_FILTER")
        #expect(try BPFFeatures.isHelperSupported(HelperFunction(rawValue: 100_000), in: .socketFilter) == false)
        #expect(throws: FeatureProbeError.self) { try BPFFeatures.checkHelper(.mapLookupElem, in: .tracing) }
    }

    @Test func miscFeatures() throws {
        var features = [MiscFeature.largeInstructions, .boundedLoops, .instructionSetV2, .instructionSetV3, .bpfCookie]
        let v4 = KernelFeature.instructionSetV4.probe
        if v4.present || TestKernel.current.expects(.instructionSetV4) {
            features.append(.instructionSetV4)
        } else {
            let error = #expect(throws: FeatureProbeError.self, "\(v4.finding)") { try BPFFeatures.check(MiscFeature.instructionSetV4) }
            #expect(error?.unsupportedFeature != nil)
        }
        for feature in features {
            #expect(throws: Never.self, "\(feature)") { try BPFFeatures.check(feature) }
        }
    }

    @Test("uprobe.multi links: present where the test kernel is expected to have them (6.6)")
    func uprobeMulti() throws {
        #expect(try BPFFeatures.isSupported(.uprobeMulti) == TestKernel.current.expects(.uprobeMulti))
    }
}
