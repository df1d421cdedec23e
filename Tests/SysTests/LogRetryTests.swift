import Glibc
import Testing
import TestSupport

@testable import EBPFSys

/// When a failed load with a log is repeated with a larger log, and when it is not: the kernel
/// answers `ENOSPC` for a log it cut short, but `ENOSPC` alone does not say the log was cut.
@Suite("Verifier log retries", .checksFileDescriptorLeaks)
struct LogRetryTests {
    /// A fake kernel that fails every load: without a log with `errnoWithoutLog`, with a log by
    /// filling it as `fill` says and returning `ENOSPC`. Records the log size of each call (0
    /// for the load without a log).
    private func fakeKernel(
        sizes: LevelRecorder, errnoWithoutLog: Errno, fill: @escaping @Sendable (UInt32) -> (text: Int, trueSize: UInt32)
    ) -> @Sendable (BPFCommand, UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        { _, attributes in
            var load = attributes.loadUnaligned(as: ProgLoadAttr.self)
            sizes.record(load.logLevel == 0 ? 0 : load.logSize)
            guard load.logLevel != 0, let buffer = UnsafeMutableRawPointer(bitPattern: UInt(load.logBuf)) else {
                return .failure(errnoWithoutLog)
            }
            let (length, trueSize) = fill(load.logSize)
            // Text of `length` bytes and its terminating NUL, as the kernel leaves a log.
            let written = min(length, Int(load.logSize) - 1)
            buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "x"), count: written)
            buffer.storeBytes(of: 0, toByteOffset: written, as: UInt8.self)
            load.logTrueSize = trueSize
            attributes.storeBytes(of: load, as: ProgLoadAttr.self)
            return .failure(.noSpace)
        }
    }

    private func loadWithoutLog() throws {
        _ = try Sys.loadProgram(type: 1, instructions: returnImmediateProgram(0), license: "GPL")
    }

    @Test func noSpaceWithALogThatFitsIsTheLoadsOwnError() {
        let sizes = LevelRecorder()
        // The kernel wrote 100 bytes of a 64 KiB log and says it needed 101: the log is whole.
        let error = withInterceptor(fakeKernel(sizes: sizes, errnoWithoutLog: .noSpace, fill: { _ in (100, 101) })) {
            #expect(throws: BPFSyscallError.self, "the fake fails every load") { try loadWithoutLog() }
        }
        #expect(sizes.levels == [0, UInt32(Sys.defaultVerifierLogSize)], "a log that fit is not asked for again")
        #expect(error?.errno == .noSpace)
        #expect(error?.hint == nil, "the log did fit, so it was not too small")
        #expect(error?.log?.count == 100)
    }

    @Test func noSpaceWithAShortLogOnKernelsWithoutTrueSizeIsNotRetried() {
        let sizes = LevelRecorder()
        // Before Linux 6.4 the kernel reports no size: a log that ends before the buffer does fit.
        let error = withInterceptor(fakeKernel(sizes: sizes, errnoWithoutLog: .noSpace, fill: { _ in (300, 0) })) {
            #expect(throws: BPFSyscallError.self) { try loadWithoutLog() }
        }
        #expect(sizes.levels == [0, UInt32(Sys.defaultVerifierLogSize)])
        #expect(error?.errno == .noSpace)
    }

    @Test func aFullLogOnKernelsWithoutTrueSizeGrowsFourfold() throws {
        let sizes = LevelRecorder()
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        let calls = CallCounter()
        let raw: Int32 = try withInterceptor({ _, attributes in
            let load = attributes.loadUnaligned(as: ProgLoadAttr.self)
            sizes.record(load.logSize)
            guard calls.next() == 0, let buffer = UnsafeMutableRawPointer(bitPattern: UInt(load.logBuf)) else {
                return .success(Int(writeEnd))
            }
            // Filled to the last byte, which holds the NUL; no `log_true_size`.
            let size = Int(load.logSize)
            buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "y"), count: size - 1)
            buffer.storeBytes(of: 0, toByteOffset: size - 1, as: UInt8.self)
            return .failure(.noSpace)
        }) {
            let loaded = try Sys.loadProgram(
                type: 1, instructions: returnImmediateProgram(0), license: "GPL", logLevel: .instructions, logSize: 1000)
            return loaded.takeDescriptor().relinquish()
        }
        #expect(sizes.levels == [1000, 4000])
        #expect(close(raw) == 0)
    }

    @Test func aLogTooLargeForTheMaximumReportsTheErrorOfTheLoadWithoutLog() {
        let sizes = LevelRecorder()
        // A program too large to verify: `E2BIG` without a log; with one, a log far beyond the
        // largest buffer, which the kernel reports as `ENOSPC`, keeping the log's last part.
        let huge = UInt32.max >> 1
        let error = withInterceptor(
            fakeKernel(sizes: sizes, errnoWithoutLog: .argumentListTooLong, fill: { size in (Int(size), huge) })
        ) {
            #expect(throws: BPFSyscallError.self) { try loadWithoutLog() }
        }
        #expect(
            sizes.levels == [0, UInt32(Sys.defaultVerifierLogSize), UInt32(Sys.maximumVerifierLogSize)],
            "one load without a log, one with the default log, one with the largest, then stop")
        #expect(error?.errno == .argumentListTooLong, "the verifier's own error, not the log's ENOSPC")
        #expect(error?.hint == nil)
        #expect(error?.log?.utf8.count == Sys.maximumVerifierLogSize - 1)
    }

    @Test func aLogTooLargeForTheMaximumWithoutAnEarlierErrorSaysTheLogIsTooSmall() {
        let sizes = LevelRecorder()
        let error = withInterceptor(
            fakeKernel(sizes: sizes, errnoWithoutLog: .argumentListTooLong, fill: { size in (Int(size), size &+ 1) })
        ) {
            #expect(throws: BPFSyscallError.self) {
                _ = try Sys.loadProgram(
                    type: 1, instructions: returnImmediateProgram(0), license: "GPL", logLevel: .instructions,
                    logSize: Sys.maximumVerifierLogSize)
            }
        }
        #expect(sizes.levels == [UInt32(Sys.maximumVerifierLogSize)])
        #expect(error?.errno == .noSpace)
        #expect(error?.hint == .logBufferTooSmall)
    }

    @Test func retryDecisions() {
        let maximum = Sys.maximumVerifierLogSize
        #expect(
            Sys.logRetryOutcome(errno: .permissionDenied, size: 128, log: "", kernelReported: 0, errorWithoutLog: nil)
                == .fail(errno: .permissionDenied, logTooSmall: false))
        #expect(
            Sys.logRetryOutcome(errno: .noSpace, size: 128, log: "", kernelReported: 128, errorWithoutLog: nil)
                == .retry(size: 512))
        #expect(
            Sys.logRetryOutcome(errno: .noSpace, size: 128, log: "", kernelReported: 9000, errorWithoutLog: nil)
                == .retry(size: 9000))
        #expect(
            Sys.logRetryOutcome(errno: .noSpace, size: 128, log: "", kernelReported: 0, errorWithoutLog: nil)
                == .fail(errno: .noSpace, logTooSmall: false))
        #expect(
            Sys.logRetryOutcome(
                errno: .noSpace, size: 128, log: String(repeating: "z", count: 127), kernelReported: 0,
                errorWithoutLog: nil) == .retry(size: 512))
        #expect(
            Sys.logRetryOutcome(
                errno: .noSpace, size: maximum, log: "", kernelReported: UInt32.max, errorWithoutLog: .invalidArgument)
                == .fail(errno: .invalidArgument, logTooSmall: false))
    }
}

/// A program the verifier gives up on for its size, on the running kernel.
@Suite("Verifier log retries (root)", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct LogRetryKernelTests {
    /// `r1 = 0; loop: r1 += 1; if r1 < 0x7fffffff goto loop; r0 = 0; exit`: the verifier walks
    /// the loop one iteration at a time until it hits its limit of a million instructions.
    private var endlessLoop: [UInt8] {
        [
            0xb7, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0xa5, 0x01, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ] + returnImmediateProgram(0)
    }

    @Test func aProgramTooLargeToVerifyIsReportedAsSuch() {
        let calls = CallCounter()
        let error = withInterceptor({ command, attributes in
            _ = calls.next()
            return BPFSyscall.kernelCall(command, attributes)
        }) {
            #expect(throws: BPFSyscallError.self, "the verifier cannot finish this loop") {
                _ = try Sys.loadProgram(type: 1, instructions: endlessLoop, license: "GPL")
            }
        }
        #expect(error?.errno == .argumentListTooLong, "E2BIG, not the ENOSPC of a log cut short")
        #expect(error?.log?.contains("too large") == true, "the log keeps its last part, which says why")
        #expect(calls.count <= 3, "without a log, with the default log, with the largest log at most")
    }
}
