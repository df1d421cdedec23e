import EBPFCollection
import Testing
import TestSupport

@testable import EBPFLink
@testable import EBPFSys

/// The public link feature probes agree with what TestKernel's own probes (kallsyms, the kernel
/// release) find on the running kernel, and are supported wherever the test kernel is expected to
/// have the link kind.
@Suite(
    "link feature probes", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct LinkFeatureTests {
    static let kernelFeatures: [(LinkFeature, KernelFeature)] = [
        (.kprobeMulti, .kprobeMulti), (.kprobeSession, .kprobeSession), (.uprobeMulti, .uprobeMulti), (.tcx, .tcx),
        (.netkit, .netkit), (.perfEvent, .perfEventLinks),
    ]

    @Test(arguments: kernelFeatures)
    func probeAgreesWithTheKernel(feature: LinkFeature, kernelFeature: KernelFeature) throws {
        let found = kernelFeature.probe
        let supported = try Features.isSupported(feature)
        #expect(supported == found.present, "\(feature): test support found \(found.finding)")
        if TestKernel.current.expects(kernelFeature) {
            #expect(supported, "\(feature) is expected on \(TestKernel.current.rawValue)")
        }
        // Memoised: the same answer, and check agrees with it.
        #expect(try Features.isSupported(feature) == supported)
        if supported {
            #expect(throws: Never.self) { try Features.check(feature) }
        } else {
            let error = #expect(throws: FeatureProbeError.self) { try Features.check(feature) }
            #expect(error?.unsupportedFeature?.feature == feature.description)
        }
    }

    /// EPERM is no answer: the probe says it failed, and runs again next time.
    @Test func aRefusedProbeIsAnErrorAndNotKept() throws {
        Features.forgetLinkAnswers()
        let refusing = BPFSyscallInterceptor { _, _ in .failure(.notPermitted) }
        for _ in 0..<2 {
            let error = BPFSyscall.withInterceptor(refusing) {
                #expect(throws: FeatureProbeError.self) { try Features.check(.uprobeMulti) }
            }
            guard case .probeFailed(_, let cause)? = error else {
                Issue.record("expected probeFailed, got \(String(describing: error))")
                return
            }
            #expect(cause.errno == .notPermitted)
        }
        #expect(try Features.isSupported(.uprobeMulti) == KernelFeature.uprobeMulti.probe.present)
    }
}
