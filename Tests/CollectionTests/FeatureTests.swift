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
        // The host kernel (6.18) has every map type up to the arena.
        for raw in UInt32(1)...33 {
            let type = MapType(rawValue: raw)
            #expect(throws: Never.self, "\(type)") { try BPFFeatures.checkMapType(type) }
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
        for type in [ProgramType.socketFilter, .xdp, .schedCls, .tracepoint, .cgroupSKB, .cgroupSockAddr, .skLookup,
                     .rawTracepoint, .cgroupSockopt, .netfilter, .syscall, .structOps]
        {
            #expect(throws: Never.self, "\(type)") { try BPFFeatures.checkProgramType(type) }
        }
        // The host runs with lockdown in integrity mode, which refuses programs that attach to
        // kernel functions with EPERM before the verifier says anything: the probe cannot tell,
        // and must say so rather than claim the type is missing.
        for type in [ProgramType.tracing, .lsm, .ext] {
            do {
                try BPFFeatures.checkProgramType(type)
            } catch {
                guard case .probeFailed(_, let cause) = error else {
                    Issue.record("\(type): \(error)")
                    continue
                }
                #expect(cause.errno == .notPermitted, "\(type)")
            }
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
        for feature in [MiscFeature.largeInstructions, .boundedLoops, .instructionSetV2, .instructionSetV3,
                        .instructionSetV4, .bpfCookie]
        {
            #expect(throws: Never.self, "\(feature)") { try BPFFeatures.check(feature) }
        }
    }
}
