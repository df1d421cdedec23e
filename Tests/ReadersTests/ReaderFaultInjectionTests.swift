import EBPFCollection
import EBPFSys
import Synchronization
import Testing
import TestSupport

@testable import EBPFReaders

/// Every reader's set-up with each system call failing in turn: a typed error (or a retry that
/// succeeds), no descriptor left open, nothing left in the perf event array.
@Suite(
    "Reader fault injection", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct ReaderFaultInjectionTests {
    /// A failure must surface as a ``ReaderError`` naming the injected errno.
    static func expectReaderError(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .failure(let error) = outcome.result else { return }
        guard let readerError = error as? ReaderError else {
            Issue.record("\(outcome.fault): threw \(type(of: error)) \(error), not a ReaderError", sourceLocation: sourceLocation)
            return
        }
        #expect(
            readerError.description.contains(outcome.fault.errno.description), "\(outcome.fault): \(readerError)",
            sourceLocation: sourceLocation)
    }

    /// `EINTR` is retried where the kernel may return it for a signal (perf_event_open, ioctl,
    /// bpf): such a fault must not fail the set-up.
    static func expectInterruptRetried(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        outcome.expectInterruptRetried(
            where: {
                switch $0 {
                case .bpf, .perfEventOpen, .ioctl, .tracefsWrite: true
                default: false
                }
            }, sourceLocation: sourceLocation)
    }

    @Test("EventPoller: a failed wake registration closes each descriptor once")
    func pollerClosesOnceWhenRegistrationFails() throws {
        let closes = Mutex<[Int32]>([])
        let interceptor = SystemCallInterceptor { call in
            switch call {
            case .epollControl:
                return .noSpace
            case .close(let descriptor):
                closes.withLock { $0.append(descriptor) }
                return nil
            default:
                return nil
            }
        }
        let result = SystemCalls.withInterceptor(interceptor) {
            Result { () throws(ReaderError) in try EventPoller(label: "issue16_poller") {} }
        }
        #expect(throws: ReaderError.systemCall(call: "epoll_ctl", map: "issue16_poller", errno: .noSpace)) { try result.get() }
        let closed = closes.withLock { $0 }
        #expect(closed.count == 2, "closed \(closed): the epoll and the wake descriptor, once each")
        #expect(Set(closed).count == closed.count, "a descriptor was closed twice: \(closed)")
    }

    @Test("EventPoller: every call failing in turn")
    func pollerSweep() async throws {
        let summary = try await FaultInjection.sweep {
            try EventPoller(label: "issue16_poller") {}
        } release: { poller in
            poller.close()
        } check: { outcome in
            Self.expectReaderError(outcome)
        }
        #expect(summary.calls == [.epollCreate, .eventfd, .epollControl], "\(summary)")
    }

    @Test("RingBufferReader over two rings: every call failing in turn")
    func ringBufferSweep() async throws {
        let first = try ringBufferMap("issue16_rb1", size: 4096)
        let second = try ringBufferMap("issue16_rb2", size: 8192)
        let summary = try await FaultInjection.sweep {
            try RingBufferReader(maps: [first, second])
        } release: { reader in
            reader.close()
        } check: { outcome in
            Self.expectReaderError(outcome)
        }
        // A duplicate of each ring's map, two mappings per ring, the poller's three calls and one
        // registration per ring.
        #expect(summary.calls.count == 11, "\(summary)")
        #expect(summary.survived == 0, "\(summary)")
    }

    @Test("UserRingBufferProducer: every call failing in turn")
    func userRingBufferSweep() async throws {
        let map = try Map(spec: MapSpec(name: "issue16_urb", type: .userRingbuf, keySize: 0, valueSize: 0, maxEntries: 4096))
        let summary = try await FaultInjection.sweep {
            try UserRingBufferProducer(map)
        } release: { producer in
            producer.close()
        } check: { outcome in
            Self.expectReaderError(outcome)
        }
        // The duplicate of the map and its mapping.
        #expect(summary.calls.count == 3, "\(summary)")
    }

    @Test("PerfEventReader: every call failing in turn leaves the map empty", arguments: [false, true])
    func perfEventReaderSweep(overwritable: Bool) async throws {
        let cpus = try PossibleCPUs.count()
        let map = try Map(
            spec: MapSpec(name: "issue16_perf", type: .perfEventArray, keySize: 4, valueSize: 4, maxEntries: UInt32(cpus)))
        let options = PerfReaderOptions(perCPUBufferSize: 4096, overwritable: overwritable)
        let summary = try await FaultInjection.sweep {
            try PerfEventReader(map, options: options)
        } release: { reader in
            reader.close()
        } check: { outcome in
            Self.expectInterruptRetried(outcome)
            if case .failure = outcome.result {
                Self.expectReaderError(outcome)
            }
            // A perf event left in the array keeps its ring alive in the kernel: deleting each
            // slot must find nothing.
            for cpu in 0..<cpus {
                let deleted = try map.delete(UInt32(cpu))
                #expect(!deleted, "\(outcome.fault): CPU \(cpu)'s event was left in the map")
            }
        }
        let opens = summary.calls.filter { $0 == .perfEventOpen }.count
        #expect(opens >= 1 && opens <= cpus, "\(summary)")
        #expect(summary.calls.contains(.epollCreate), "\(summary)")
    }
}
