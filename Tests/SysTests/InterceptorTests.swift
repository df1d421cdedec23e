import Glibc
import Testing
import TestSupport

@testable import EBPFSys

/// The choke point's retry and error rules, proven with a fake bpf(2) bound to the test's task.
@Suite("bpf(2) choke point", .checksFileDescriptorLeaks)
struct InterceptorTests {
    @Test func interruptedCallsAreRetried() throws {
        let calls = CallCounter()
        try withInterceptor({ command, _ in
            #expect(command == .mapFreeze)
            return calls.next() < 3 ? .failure(.interrupted) : .success(0)
        }) {
            try Sys.mapFreeze(MapFreezeAttr())
        }
        #expect(calls.count == 4)
    }

    @Test func endlessInterruptionsSurfaceAsAnError() {
        let calls = CallCounter()
        let error = withInterceptor({ _, _ in
            _ = calls.next()
            return .failure(.interrupted)
        }) {
            #expect(throws: BPFSyscallError.self, "an endless EINTR must not be reported as success") {
                try Sys.mapFreeze(MapFreezeAttr())
            }
        }
        #expect(error?.errno == .interrupted)
        #expect(error?.command == .mapFreeze)
        #expect(calls.count == BPFSyscall.maximumInterruptedRetries + 1)
    }

    @Test func programLoadRetriesAgain() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        let calls = CallCounter()
        let raw: Int32 = try withInterceptor({ command, _ in
            #expect(command == .progLoad)
            // The "program" is the pipe's write end; the loaded descriptor takes ownership of it.
            return calls.next() < 2 ? .failure(.resourceTemporarilyUnavailable) : .success(Int(writeEnd))
        }) {
            let loaded = try Sys.loadProgram(type: 1, instructions: returnImmediateProgram(0), license: "GPL")
            return loaded.takeDescriptor().relinquish()
        }
        #expect(calls.count == 3)
        #expect(raw == writeEnd)
        #expect(close(raw) == 0)
        #expect(pipeIsAtEndOfFile(readEnd))
    }

    @Test func programLoadGivesUpAfterBoundedAgainRetries() {
        let calls = CallCounter()
        let error = withInterceptor({ _, _ in
            _ = calls.next()
            return .failure(.resourceTemporarilyUnavailable)
        }) {
            #expect(throws: BPFSyscallError.self, "EAGAIN must surface once the retries are used up") {
                _ = try Sys.loadProgram(
                    type: 1, instructions: returnImmediateProgram(0), license: "GPL", logLevel: .instructions)
            }
        }
        #expect(error?.errno == .resourceTemporarilyUnavailable)
        #expect(error?.log != nil)
        #expect(calls.count == BPFSyscall.maximumProgramLoadRetries + 1)
    }

    @Test func againIsNotRetriedForOtherCommands() {
        let calls = CallCounter()
        _ = withInterceptor({ _, _ in
            _ = calls.next()
            return .failure(.resourceTemporarilyUnavailable)
        }) {
            #expect(throws: BPFSyscallError.self) {
                _ = try Sys.createMap(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
            }
        }
        #expect(calls.count == 1)
    }

    @Test func permissionErrorsCarryTheCommandAndAHint() {
        let error = withInterceptor({ _, _ in .failure(.notPermitted) }) {
            #expect(throws: BPFSyscallError.self, "EPERM must not be swallowed") {
                _ = try Sys.createMap(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
            }
        }
        #expect(error?.command == .mapCreate)
        #expect(error?.errno == .notPermitted)
        #expect(error?.description.contains("CAP_BPF") == true)
        #expect(error?.description.contains("kernel lockdown: ") == true)
        #expect(error?.description.contains("create a map of type 2") == true)
        #expect(error?.hint != nil)
    }

    @Test func failedLoadIsRepeatedWithALogAndTheErrorCarriesIt() {
        let levels = LevelRecorder()
        let error = withInterceptor({ command, attributes in
            var load = attributes.loadUnaligned(as: ProgLoadAttr.self)
            levels.record(load.logLevel)
            guard load.logLevel != 0, let buffer = UnsafeMutableRawPointer(bitPattern: UInt(load.logBuf)) else {
                return .failure(.permissionDenied)
            }
            let text = Array("0: (95) exit\nR0 !read_ok\nprocessed 1 insns\n".utf8) + [0]
            #expect(Int(load.logSize) >= text.count)
            buffer.copyMemory(from: text, byteCount: text.count)
            load.logTrueSize = UInt32(text.count)
            attributes.storeBytes(of: load, as: ProgLoadAttr.self)
            return .failure(.permissionDenied)
        }) {
            #expect(throws: BPFSyscallError.self, "the fake rejects every load") {
                _ = try Sys.loadProgram(type: 1, instructions: returnImmediateProgram(0), license: "GPL")
            }
        }
        #expect(error?.errno == .permissionDenied)
        #expect(error?.hint == .programRejected)
        #expect(error?.log?.contains("R0 !read_ok") == true)
        #expect(error?.description.hasSuffix("R0 !read_ok") == true)
        #expect(levels.levels == [0, 1])
    }

    @Test func truncatedLogIsRetriedWithTheSizeTheKernelReports() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        let sizes = LevelRecorder()
        let (raw, log): (Int32, String) = try withInterceptor({ _, attributes in
            var load = attributes.loadUnaligned(as: ProgLoadAttr.self)
            sizes.record(load.logSize)
            if load.logSize < 5000 {
                load.logTrueSize = 5000
                attributes.storeBytes(of: load, as: ProgLoadAttr.self)
                return .failure(.noSpace)
            }
            if let buffer = UnsafeMutableRawPointer(bitPattern: UInt(load.logBuf)) {
                let text = Array("all good\n".utf8) + [0]
                buffer.copyMemory(from: text, byteCount: text.count)
            }
            return .success(Int(writeEnd))
        }) {
            let loaded = try Sys.loadProgram(
                type: 1, instructions: returnImmediateProgram(0), license: "GPL", logLevel: .instructions, logSize: 200)
            let log = loaded.log
            return (loaded.takeDescriptor().relinquish(), log)
        }
        #expect(sizes.levels == [200, 5000])
        #expect(log == "all good\n")
        #expect(close(raw) == 0)
    }

    @Test func malformedInstructionsNeverReachTheKernel() {
        let calls = CallCounter()
        let error = withInterceptor({ _, _ in
            _ = calls.next()
            return .success(0)
        }) {
            #expect(throws: BPFSyscallError.self, "3 bytes are not an instruction") {
                _ = try Sys.loadProgram(type: 1, instructions: [0xb7, 0, 0], license: "GPL")
            }
        }
        #expect(error?.hint == .malformedInstructions(byteCount: 3))
        #expect(calls.count == 0)
    }

    @Test func elementCallPassesItsAttributesAndReportsTheErrnoWithoutThrowing() {
        let key: UInt32 = 7
        var value: UInt64 = 0
        let attempts = LevelRecorder()
        let outcomes: [Errno?] = withUnsafeBytes(of: key) { keyBytes in
            withUnsafeMutableBytes(of: &value) { valueBytes in
                let keyAddress = Sys.address(of: keyBytes.baseAddress)
                let valueAddress = Sys.address(of: valueBytes.baseAddress)
                return withInterceptor({ command, attributes in
                    let element = attributes.loadUnaligned(as: MapElemAttr.self)
                    #expect(attributes.count == MemoryLayout<MapElemAttr>.size)
                    #expect(element.mapFD == 42)
                    #expect(element.key == keyAddress)
                    #expect(element.value == valueAddress)
                    #expect(element.flags == (command == .mapUpdateElem ? 2 : 0))
                    let firstAttempt = attempts.levels.last != UInt32(bitPattern: command.rawValue)
                    attempts.record(UInt32(bitPattern: command.rawValue))
                    // Lookups find nothing; the other commands are interrupted once, then succeed.
                    if command == .mapLookupElem { return .failure(.noSuchFileOrDirectory) }
                    return firstAttempt ? .failure(.interrupted) : .success(0)
                }) {
                    [MapElementCommand.lookup, .update, .delete, .lookupAndDelete].map { command in
                        Sys.mapElementCall(
                            command, mapFD: 42, key: keyBytes.baseAddress, value: valueBytes.baseAddress,
                            flags: command == .update ? 2 : 0)
                    }
                }
            }
        }
        #expect(outcomes == [.noSuchFileOrDirectory, nil, nil, nil])
        #expect(attempts.levels == [1, 2, 2, 3, 3, 21, 21])
    }

    @Test func mapElementCommandsAreTheKernelsCommands() {
        #expect(MapElementCommand.lookup.command == .mapLookupElem)
        #expect(MapElementCommand.update.command == .mapUpdateElem)
        #expect(MapElementCommand.delete.command == .mapDeleteElem)
        #expect(MapElementCommand.lookupAndDelete.command == .mapLookupAndDeleteElem)
    }

    @Test func errorOfAFailedCommandIsTheOneTheThrowingFunctionThrows() {
        let thrown = withInterceptor({ _, _ in .failure(.argumentListTooLong) }) {
            #expect(throws: BPFSyscallError.self) { try Sys.mapUpdateElem(MapElemAttr()) }
        }
        let made = BPFSyscallError(failedCommand: .mapUpdateElem, errno: .argumentListTooLong)
        #expect(made.hint == .mapFull)
        #expect(thrown?.hint == made.hint)
        #expect(thrown?.description == made.description)
    }

    @Test func interceptorsAreScopedToTheirTask() async {
        await withTaskGroup(of: Errno?.self) { group in
            for errno in [Errno.noSuchDevice, Errno.resourceBusy] {
                group.addTask {
                    let error = withInterceptor({ _, _ in .failure(errno) }) {
                        #expect(throws: BPFSyscallError.self) { try Sys.mapFreeze(MapFreezeAttr()) }
                    }
                    return error?.errno
                }
            }
            var seen: Set<Int32> = []
            for await result in group {
                if let result { seen.insert(result.rawValue) }
            }
            #expect(seen == [Errno.noSuchDevice.rawValue, Errno.resourceBusy.rawValue])
        }
    }
}

/// Records values an interceptor sees, in order.
final class LevelRecorder: @unchecked Sendable {
    private var storage: [UInt32] = []
    private let lock = PthreadLock()

    func record(_ value: UInt32) {
        lock.withLock { storage.append(value) }
    }

    var levels: [UInt32] {
        lock.withLock { storage }
    }
}

/// A minimal pthread mutex wrapper for the recorder (the test target does not import Foundation).
final class PthreadLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() {
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    func withLock<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
