import Glibc
import Testing
import TestSupport

@testable import EBPFSys

private func memlockLimit() -> rlimit {
    var limit = rlimit()
    _ = getrlimit(MemlockProbe.resource, &limit)
    return limit
}

@Suite("Memlock accounting", .checksFileDescriptorLeaks, .serialized)
struct MemlockTests {
    @Test func probeReportsMemlockAccountingOnEPERMAndRestoresTheLimit() throws {
        let before = memlockLimit()
        let calls = CallCounter()
        let seenLimit = LevelRecorder()
        let accounting = try withInterceptor({ command, _ in
            #expect(command == .mapCreate)
            _ = calls.next()
            seenLimit.record(UInt32(truncatingIfNeeded: memlockLimit().rlim_cur))
            return .failure(.notPermitted)
        }) {
            try MemlockProbe.probe()
        }
        #expect(accounting == .memlockLimit)
        #expect(calls.count == 1)
        #expect(seenLimit.levels == [0], "the probe runs with the soft limit at 0")
        let after = memlockLimit()
        #expect(after.rlim_cur == before.rlim_cur)
        #expect(after.rlim_max == before.rlim_max)
    }

    @Test func probeFailureIsReported() {
        let error = withInterceptor({ _, _ in .failure(.invalidArgument) }) {
            #expect(throws: MemlockLimitError.self) { _ = try MemlockProbe.probe() }
        }
        guard case .probeFailed(let syscallError) = error else {
            Issue.record("expected probeFailed, got \(String(describing: error))")
            return
        }
        #expect(syscallError.errno == .invalidArgument)
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason), .requires(.memoryCgroupAccounting))
    func thisKernelUsesMemoryCgroups() throws {
        guard KernelFeature.memoryCgroupAccounting.check() else { return }
        let before = memlockLimit()
        #expect(try MemlockProbe.probe() == .memoryCgroup)
        #expect(memlockLimit().rlim_cur == before.rlim_cur)
        #expect(try Sys.raiseMemlockLimitIfNeeded() == .memoryCgroup)
        #expect(memlockLimit().rlim_cur == before.rlim_cur, "nothing to raise on a memcg kernel")
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func resultIsMemoised() throws {
        let first = try Sys.memoryAccounting()
        let calls = CallCounter()
        let second = try withInterceptor({ _, _ in
            _ = calls.next()
            return .failure(.notPermitted)
        }) {
            try Sys.memoryAccounting()
        }
        #expect(first == second)
        #expect(calls.count == 0, "a memoised probe makes no bpf(2) call")
        #expect(MemlockProbe.cachedAccounting == first)
    }
}
