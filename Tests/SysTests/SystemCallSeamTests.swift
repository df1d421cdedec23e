import CEBPF
import Glibc
import Synchronization
import Testing
import TestSupport

@testable import EBPFSys

/// The seam of the system calls other than bpf(2): an interceptor fails the calls it picks, in
/// its own task, `EINTR` is retried where the kernel can return it, and a close is observed
/// but always happens.
@Suite("System call seam", .checksFileDescriptorLeaks)
struct SystemCallSeamTests {
    @Test func anInjectedErrnoFailsTheCallWithoutMakingIt() throws {
        let seen = Mutex<[SystemCall]>([])
        let interceptor = SystemCallInterceptor { call in
            seen.withLock { $0.append(call) }
            return call == .epollCreate ? .noMemory : nil
        }
        let results = SystemCalls.withInterceptor(interceptor) {
            let results = (
                SystemCalls.epollCreate(flags: Int32(EPOLL_CLOEXEC)), SystemCalls.eventfd(initialValue: 0, flags: Int32(EFD_CLOEXEC))
            )
            if case .success(let wake) = results.1 { SystemCalls.close(wake) }
            return results
        }
        guard case .failure(.noMemory) = results.0 else {
            Issue.record("epoll_create1 was not failed: \(results.0)")
            return
        }
        let wake = try results.1.get()
        #expect(seen.withLock { $0 } == [.epollCreate, .eventfd, .close(descriptor: wake)])

        // Outside the scope the real call runs.
        let epoll = try SystemCalls.epollCreate(flags: Int32(EPOLL_CLOEXEC)).get()
        #expect(epoll > 0)
        SystemCalls.close(epoll)
    }

    @Test func interruptsAreRetriedABoundedNumberOfTimes() {
        let calls = CallCounter()
        // Three EINTRs, then the real ioctl, which fails with EBADF on -1.
        let retried = SystemCalls.withInterceptor(SystemCallInterceptor { _ in calls.next() < 3 ? .interrupted : nil }) {
            SystemCalls.ioctl(-1, request: 0x2400, value: 0)
        }
        guard case .failure(.badFileDescriptor) = retried else {
            Issue.record("expected EBADF after the retries, got \(retried)")
            return
        }
        #expect(calls.count == 4)

        let storm = CallCounter()
        let gaveUp = SystemCalls.withInterceptor(SystemCallInterceptor { _ in storm.next() >= 0 ? .interrupted : nil }) {
            SystemCalls.perfEventOpen(nil, pid: -1, cpu: 0, groupFD: -1, flags: 0)
        }
        guard case .failure(.interrupted) = gaveUp else {
            Issue.record("expected EINTR once the retries ran out, got \(gaveUp)")
            return
        }
        #expect(storm.count == SystemCalls.maximumInterruptedRetries + 1)
    }

    @Test func aCloseIsObservedAndAlwaysHappens() throws {
        let (readEnd, writeEnd) = try makePipe()
        let observed = Mutex<[Int32]>([])
        SystemCalls.withInterceptor(
            SystemCallInterceptor { call in
                if case .close(let descriptor) = call { observed.withLock { $0.append(descriptor) } }
                return .notPermitted
            }
        ) {
            SystemCalls.close(writeEnd)
        }
        #expect(observed.withLock { $0 } == [writeEnd])
        #expect(fcntl(writeEnd, F_GETFD) == -1, "the write end is still open")
        SystemCalls.close(readEnd)
    }

    @Test("bpf(2) goes through the same seam", .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func bpfCallsCanBeFailed() throws {
        let interceptor = SystemCallInterceptor { call in call == .bpf(.mapCreate) ? .noSpace : nil }
        let error = #expect(throws: BPFSyscallError.self) {
            try SystemCalls.withInterceptor(interceptor) {
                _ = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
            }
        }
        #expect(error?.errno == .noSpace)
    }

    @Test func aTracefsWriteCanBeFailedAndIsRetriedOnEINTR() {
        let lines = Mutex<[String]>([])
        let interceptor = SystemCallInterceptor { call in
            guard case .tracefsWrite(_, let line) = call else { return nil }
            lines.withLock { $0.append(line) }
            return lines.withLock { $0.count } == 1 ? .interrupted : .resourceBusy
        }
        let result = SystemCalls.withInterceptor(interceptor) {
            SystemCalls.appendLine("-:issue16/none", toFile: "/nonexistent/uprobe_events")
        }
        guard case .failure(.resourceBusy) = result else {
            Issue.record("expected the second attempt's EBUSY, got \(result)")
            return
        }
        #expect(lines.withLock { $0 } == ["-:issue16/none", "-:issue16/none"])
    }
}
