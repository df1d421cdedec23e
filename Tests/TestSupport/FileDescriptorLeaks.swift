import Glibc
import Testing

/// A descriptor that a piece of code opened and did not close.
public struct LeakedFileDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The descriptor number.
    public var number: Int32
    /// What it refers to, as `/proc/self/fd` shows it (`anon_inode:bpf-map`, a path, `socket:[123]`).
    public var target: String

    public var description: String { "fd \(number) -> \(target)" }
}

/// Finds file descriptors that a test opens and leaves open.
///
/// File descriptors are process-wide while Swift Testing runs tests in parallel, so a check compares
/// snapshots of `/proc/self/fd` while holding one process-wide gate: every test that uses the check
/// runs alone with respect to the others that use it. A descriptor that shows up only briefly (opened
/// by a concurrent test that does not use the check) is not reported: a leak must still be there after
/// a short settling delay.
public enum FileDescriptorLeaks {
    /// The descriptors this process has open, with what each refers to.
    public static func openDescriptors() -> [Int32: String] {
        guard let directory = opendir("/proc/self/fd") else { return [:] }
        defer { closedir(directory) }
        let ownDescriptor = dirfd(directory)
        var result: [Int32: String] = [:]
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let number = Int32(name), number != ownDescriptor else { continue }
            result[number] = linkTarget(of: number)
        }
        return result
    }

    private static func linkTarget(of descriptor: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard length > 0 else { return "?" }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `body` and returns the descriptors it left open that were not open before.
    ///
    /// Holds the process-wide gate while `body` runs; do not nest calls.
    public static func leaks(during body: () async throws -> Void) async throws -> [LeakedFileDescriptor] {
        try await gate.withExclusiveAccess {
            let before = openDescriptors()
            try await body()
            return try await newDescriptors(since: before)
        }
    }

    /// The descriptors open now that were not in `before`, after giving descriptors of concurrent
    /// tests a short time to go away. For use inside a test that holds the leak gate (one with
    /// ``Trait/checksFileDescriptorLeaks``), where ``leaks(during:)`` cannot be nested.
    package static func newDescriptors(since before: [Int32: String]) async throws -> [LeakedFileDescriptor] {
        var leaked = newDescriptorsNow(since: before)
        var attempts = 0
        while !leaked.isEmpty && attempts < 5 {
            try await Task.sleep(nanoseconds: 20_000_000)
            leaked = newDescriptorsNow(since: before).filter { leaked.contains($0) }
            attempts += 1
        }
        return leaked.sorted { $0.number < $1.number }
    }

    static func newDescriptorsNow(since before: [Int32: String]) -> [LeakedFileDescriptor] {
        openDescriptors().compactMap { number, target in
            before[number] == target ? nil : LeakedFileDescriptor(number: number, target: target)
        }
    }

    static let gate = AsyncGate()
}

/// A first-come, first-served asynchronous mutual-exclusion gate.
final class AsyncGate: Sendable {
    private let state = GateState()

    func withExclusiveAccess<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await state.enter()
        do {
            let result = try await body()
            await state.leave()
            return result
        } catch {
            await state.leave()
            throw error
        }
    }
}

private actor GateState {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// A trait that fails a test which leaves file descriptors open that it did not find.
///
/// Apply it to a suite (it then checks each test in it) or to single tests:
/// `@Suite(.checksFileDescriptorLeaks)`.
public struct FileDescriptorLeakCheck: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    @TaskLocal static var isChecking = false

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if Self.isChecking {
            try await function()
            return
        }
        try await Self.check(function)
    }

    /// Runs `body` and records an issue naming every descriptor it leaked.
    public static func check(
        _ body: @Sendable () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let leaked = try await FileDescriptorLeaks.leaks {
            try await $isChecking.withValue(true) { try await body() }
        }
        if !leaked.isEmpty {
            Issue.record(
                "left \(leaked.count) file descriptor(s) open: \(leaked.map(\.description).joined(separator: ", "))",
                sourceLocation: sourceLocation)
        }
    }
}

extension Trait where Self == FileDescriptorLeakCheck {
    /// Fails the test if it leaves file descriptors open that it did not find.
    public static var checksFileDescriptorLeaks: Self { FileDescriptorLeakCheck() }
}
