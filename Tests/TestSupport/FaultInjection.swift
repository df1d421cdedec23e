import EBPFSys
import Synchronization
import Testing

/// A failure a test injected: the call that failed, its position among the calls that could be
/// failed, and the errno it got.
package struct InjectedFault: Sendable, CustomStringConvertible {
    /// Which call (0 for the first) among those ``FaultInjection`` may fail.
    package var index: Int
    package var call: SystemCall
    package var errno: Errno

    package var description: String { "call \(index) (\(call)) failed with \(errno)" }
}

/// Fails one chosen system call of a piece of code, through the seams in `EBPFSys` (bpf(2) and
/// ``SystemCalls``), and sweeps that failure over every call the code makes.
///
/// Calls that release something (close, munmap) are never failed, nor counted.
package enum FaultInjection {
    /// The errnos a sweep injects by default: a missing permission, memory, a signal and a
    /// temporary shortage.
    package static let defaultErrnos: [Errno] = [.notPermitted, .noMemory, .interrupted, .resourceTemporarilyUnavailable]

    /// Which calls may fail: given a call and how many equal calls came before it in the run.
    package typealias Failable = @Sendable (_ call: SystemCall, _ earlierEqualCalls: Int) -> Bool

    /// Lets every call fail.
    package static let everyCall: Failable = { _, _ in true }

    /// Lets the first `count` calls of each kind fail, for code that repeats one call many times
    /// (a walk over the kernel's BTF objects) where failing each repetition adds nothing.
    package static func firstCalls(_ count: Int) -> Failable { { _, earlier in earlier < count } }

    /// Runs `body` with the `index`th failable call failing with `errno`. Returns what `body`
    /// returned or threw, and the fault if the code got that far.
    package static func run<Value>(
        failing index: Int, with errno: Errno, failable: @escaping Failable = everyCall,
        _ body: () throws -> Value
    ) -> (result: Result<Value, any Error>, fault: InjectedFault?, calls: [SystemCall]) {
        let plan = Plan(index: index, errno: errno, failable: failable)
        let result = SystemCalls.withInterceptor(SystemCallInterceptor { plan.decide($0) }) {
            Result { try body() }
        }
        let state = plan.state.withLock { $0 }
        return (result, state.fault, state.calls)
    }

    /// The outcome of one injected fault, handed to a sweep's check.
    package struct Outcome {
        package var fault: InjectedFault
        /// Success when the code under test survived the failure (by retrying or falling back;
        /// what it returned is released by then), else what it threw.
        package var result: Result<Void, any Error>

    /// Records an issue when an injected `EINTR` failed the code under test. `retried` picks the
    /// calls whose `EINTR` the code retries (all of them unless given).
    package func expectInterruptRetried(
        where retried: (SystemCall) -> Bool = { _ in true }, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard fault.errno == .interrupted, retried(fault.call), case .failure(let error) = result else { return }
        Issue.record("\(fault): EINTR was not retried: \(error)", sourceLocation: sourceLocation)
    }
    }

    /// What a sweep did.
    package struct Summary: Sendable, CustomStringConvertible {
        /// The failable calls the code makes when nothing fails.
        package var calls: [SystemCall]
        /// How many runs had a call fail.
        package var faults: Int
        /// How many of those runs still succeeded.
        package var survived: Int

        package var description: String {
            "\(calls.count) failable calls, \(faults) faults injected, \(survived) survived: "
                + calls.map(\.description).joined(separator: ", ")
        }
    }

    /// Runs `body` once per failable call it makes and errno in `errnos`, failing that call with
    /// that errno, until a run makes fewer calls than the index to fail.
    ///
    /// After each run `release` gets what `body` returned (when it did not throw) and closes it;
    /// then the run must have left no new file descriptor open, and `check` looks at the outcome
    /// (the error type, tracefs, bpffs). A leak is recorded as an issue naming the fault.
    ///
    /// - Parameter limit: the most calls a sweep fails, so a body that never stops calling
    ///   ends the test instead of hanging it.
    @discardableResult
    package static func sweep<Value>(
        errnos: [Errno] = defaultErrnos,
        failable: @escaping Failable = everyCall,
        limit: Int = 400,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Value,
        release: (Value) throws -> Void,
        check: (Outcome) throws -> Void
    ) async throws -> Summary {
        // A clean run first: it must succeed, and it says which calls there are.
        let clean = run(failing: Int.max, with: .notPermitted, failable: failable, body)
        let value = try clean.result.get()
        try release(value)
        var summary = Summary(calls: clean.calls, faults: 0, survived: 0)
        var index = 0
        while index < limit {
            var reached = false
            for errno in errnos {
                let before = FileDescriptorLeaks.openDescriptors()
                let (result, fault) = try runAndRelease(
                    failing: index, with: errno, failable: failable, body, release: release)
                guard let fault else {
                    // The code made fewer calls than `index` this time.
                    continue
                }
                reached = true
                summary.faults += 1
                if case .success = result { summary.survived += 1 }
                let leaked = try await FileDescriptorLeaks.newDescriptors(since: before)
                if !leaked.isEmpty {
                    Issue.record(
                        "\(fault): left \(leaked.count) file descriptor(s) open: \(leaked.map(\.description).joined(separator: ", "))",
                        sourceLocation: sourceLocation)
                }
                try check(Outcome(fault: fault, result: result))
            }
            guard reached else { break }
            index += 1
        }
        if index >= limit {
            Issue.record("the sweep stopped at its limit of \(limit) calls", sourceLocation: sourceLocation)
        }
        print(
            "fault injection (\(sourceLocation.fileName):\(sourceLocation.line)): \(summary.calls.count) calls, "
                + "\(summary.faults) faults injected, \(summary.survived) survived")
        return summary
    }

    /// ``run(failing:with:failable:_:)``, then `release` on what `body` returned, which is
    /// dropped before this returns so that its descriptors are closed when the caller looks.
    private static func runAndRelease<Value>(
        failing index: Int, with errno: Errno, failable: @escaping Failable, _ body: () throws -> Value,
        release: (Value) throws -> Void
    ) throws -> (Result<Void, any Error>, InjectedFault?) {
        let outcome = run(failing: index, with: errno, failable: failable, body)
        switch outcome.result {
        case .success(let value):
            try release(value)
            return (.success(()), outcome.fault)
        case .failure(let error):
            return (.failure(error), outcome.fault)
        }
    }

    /// Decides, call by call, which one fails; shared with the interceptor's closure.
    final class Plan: Sendable {
        struct State {
            var seen = 0
            var calls: [SystemCall] = []
            var occurrences: [SystemCall: Int] = [:]
            var fault: InjectedFault?
        }
        let index: Int
        let errno: Errno
        let failable: Failable
        let state = Mutex(State())

        init(index: Int, errno: Errno, failable: @escaping Failable) {
            self.index = index
            self.errno = errno
            self.failable = failable
        }

        func decide(_ call: SystemCall) -> Errno? {
            guard !call.releases else { return nil }
            return state.withLock { state in
                let earlier = state.occurrences[call, default: 0]
                state.occurrences[call] = earlier + 1
                guard failable(call, earlier) else { return nil }
                let position = state.seen
                state.seen += 1
                state.calls.append(call)
                guard position == index else { return nil }
                state.fault = InjectedFault(index: position, call: call, errno: errno)
                return errno
            }
        }
    }
}
