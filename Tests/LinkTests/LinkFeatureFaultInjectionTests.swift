import EBPFCollection
import EBPFSys
import Testing
import TestSupport

@testable import EBPFLink

/// The link feature probes load a program and try a link (two descriptors), below their memo,
/// with each call failing in turn: nothing left open, and an injected failure is never taken for
/// the kernel's answer: the probe throws naming the errno, or (a retried EINTR, a program load
/// repeated with a log) gives the same answer as without the fault.
@Suite(
    "Link feature probe fault injection", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct LinkFeatureFaultInjectionTests {
    static func check(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        switch outcome.result {
        case .success:
            break  // The sweep's body compares the answer itself.
        case .failure(let error):
            outcome.expectInterruptRetried(sourceLocation: sourceLocation)
            let text = String(describing: error)
            #expect(
                (error is FeatureProbeError || error is LinkError) && text.contains(outcome.fault.errno.description),
                "\(outcome.fault): \(type(of: error)): \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("link probes: every call failing in turn", arguments: LinkFeature.allCases)
    func linkProbeSweep(feature: LinkFeature) async throws {
        let answer = try Features.probe(feature)
        try await FaultInjection.sweep {
            let given = try Features.probe(feature)
            #expect(given == answer, "an injected failure changed the answer for \(feature)")
        } release: {
        } check: { outcome in
            Self.check(outcome)
        }
    }

    @Test("the perf event link probe: every call failing in turn")
    func perfEventLinkProbeSweep() async throws {
        let answer = try Features.probePerfEventLink()
        try await FaultInjection.sweep {
            let given = try Features.probePerfEventLink()
            #expect(given == answer, "an injected failure changed the perf event link answer")
        } release: {
        } check: { outcome in
            Self.check(outcome)
        }
    }
}
