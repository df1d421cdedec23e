import EBPFCollection
import Testing
import TestSupport

@testable import EBPFLink
@testable import EBPFSys

/// The perf-link probe memoises only definitive answers: a probe whose program load failed with
/// EPERM (or ENOMEM) used to be remembered as "not supported" for the life of the process.
@Suite("perf link probe", .serialized, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct PerfEventLinkProbeTests {
    @Test func transientFailureIsNotRemembered() throws {
        Features.perfEventLink.withLock { $0 = nil }
        let refusing = BPFSyscallInterceptor { command, attributes in
            command == .progLoad ? .failure(.notPermitted) : BPFSyscall.kernelCall(command, attributes)
        }
        BPFSyscall.withInterceptor(refusing) {
            #expect(!Features.hasPerfEventLink)
            #expect {
                try Features.perfEventLinkSupport()
            } throws: { error in
                guard case LinkError.syscall(_, let cause) = error else { return false }
                return cause.errno == .notPermitted
            }
        }
        // Both test kernels (6.1, 6.18) have perf links (Linux 5.15).
        #expect(Features.hasPerfEventLink)
    }
}
