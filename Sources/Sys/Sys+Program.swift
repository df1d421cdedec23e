// Program loading with the verifier's log, and test runs. The attribute structs and the uniform
// command functions are generated (Generated/ProgramAttributes.swift, Generated/Sys+Commands.swift).

// MARK: - Commands

/// How much the verifier writes to its log (`log_level`).
public struct VerifierLogLevel: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// `BPF_LOG_LEVEL1`: the instructions verified and the reason for a rejection.
    public static let instructions = VerifierLogLevel(rawValue: 1)
    /// `BPF_LOG_LEVEL2`: also the register state at every step; much longer.
    public static let verbose = VerifierLogLevel(rawValue: 2)
    /// `BPF_LOG_STATS`: statistics about the verification.
    public static let statistics = VerifierLogLevel(rawValue: 4)
}

/// A program the kernel accepted: its descriptor and the verifier's log (empty unless a log was
/// requested).
public struct LoadedProgram: ~Copyable, Sendable {
    public var descriptor: FileDescriptor
    public var log: String

    public init(descriptor: consuming FileDescriptor, log: String) {
        self.descriptor = descriptor
        self.log = log
    }

    /// The descriptor, for callers that keep the log separately (or not at all).
    public consuming func takeDescriptor() -> FileDescriptor {
        descriptor
    }
}

/// What `BPF_PROG_TEST_RUN` reported.
public struct ProgramTestRun: Sendable {
    /// The program's return value (`retval`).
    public var returnValue: UInt32
    /// The average run time in nanoseconds (`duration`).
    public var duration: UInt32
    /// The packet after the run, when an output buffer was requested.
    public var dataOut: [UInt8]
}

extension Sys {
    /// The log buffer size ``progLoad(_:logLevel:logSize:)`` starts with.
    public static let defaultVerifierLogSize = 64 * 1024

    /// The largest log buffer every supported kernel accepts (`UINT_MAX >> 8`).
    public static let maximumVerifierLogSize = Int(UInt32.max >> 8)

    /// The smallest log buffer the kernel accepts with a log level set.
    static let minimumVerifierLogSize = 128

    /// `BPF_PROG_LOAD`: loads a program and returns its descriptor and the verifier's log.
    ///
    /// The function owns the log fields of `attributes`. With an empty `logLevel` the program is
    /// loaded without a log first, since formatting one slows the verifier; if that fails, the
    /// load is repeated with ``VerifierLogLevel/instructions`` so the error carries the reason. A
    /// log that does not fit is retried with a larger buffer (the size the kernel reports in
    /// `log_true_size` where it does, Linux 6.4 and later), up to ``maximumVerifierLogSize``.
    ///
    /// The kernel replaces the verifier's own error with `ENOSPC` whenever the log was cut short.
    /// Only an `ENOSPC` whose log really filled the buffer is taken for that; any other `ENOSPC`
    /// is the load's real error. When the log still does not fit at the largest size, the error
    /// is the one the load without a log got (if it ran), with the log's last part: a program
    /// too large to verify is reported as such, not re-verified again and again.
    ///
    /// - Throws: ``BPFSyscallError`` whose ``BPFSyscallError/log`` holds the verifier's log.
    public static func progLoad(
        _ attributes: ProgLoadAttr, logLevel: VerifierLogLevel = [], logSize: Int = defaultVerifierLogSize
    ) throws(BPFSyscallError) -> LoadedProgram {
        var attributes = attributes
        var level = logLevel
        var errorWithoutLog: Errno?
        if level.isEmpty {
            attributes.logLevel = 0
            attributes.logSize = 0
            attributes.logBuf = 0
            switch BPFSyscall.call(.progLoad, &attributes) {
            case .success(let descriptor):
                return LoadedProgram(descriptor: try adopt(descriptor, command: .progLoad), log: "")
            case .failure(let errno):
                errorWithoutLog = errno
            }
            level = .instructions
        }

        var size = min(max(logSize, minimumVerifierLogSize), maximumVerifierLogSize)
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            attributes.logLevel = level.rawValue
            attributes.logSize = UInt32(truncatingIfNeeded: size)
            attributes.logTrueSize = 0
            let result = buffer.withUnsafeMutableBytes { bytes in
                attributes.logBuf = address(of: bytes.baseAddress)
                return BPFSyscall.call(.progLoad, &attributes)
            }
            attributes.logBuf = 0
            let log = decodeLog(buffer)
            switch result {
            case .success(let descriptor):
                return LoadedProgram(descriptor: try adopt(descriptor, command: .progLoad), log: log)
            case .failure(let errno):
                let outcome = logRetryOutcome(
                    errno: errno, size: size, log: log, kernelReported: attributes.logTrueSize,
                    errorWithoutLog: errorWithoutLog)
                switch outcome {
                case .retry(let grown):
                    size = grown
                case .fail(let reported, let logTooSmall):
                    throw BPFSyscallError(
                        command: .progLoad, errno: reported,
                        hint: .forFailure(
                            of: .progLoad, errno: reported, logRequested: logTooSmall, objectType: attributes.progType),
                        log: log)
                }
            }
        }
    }

    /// Loads `instructions` (raw 8-byte BPF instructions in the host's byte order) as a program of
    /// the kernel's type number `type` (`BPF_PROG_TYPE_SOCKET_FILTER` is 1).
    ///
    /// ```swift
    /// let program = try Sys.loadProgram(type: 1, instructions: bytes, license: "GPL")
    /// ```
    public static func loadProgram(
        type: UInt32, instructions: [UInt8], license: String, name: BPFObjectName = BPFObjectName(),
        expectedAttachType: UInt32 = 0, logLevel: VerifierLogLevel = [], logSize: Int = defaultVerifierLogSize
    ) throws(BPFSyscallError) -> LoadedProgram {
        guard instructions.count % 8 == 0, let count = UInt32(exactly: instructions.count / 8) else {
            throw BPFSyscallError(
                command: .progLoad, errno: .invalidArgument,
                hint: .malformedInstructions(byteCount: instructions.count))
        }
        var attributes = ProgLoadAttr()
        attributes.progType = type
        attributes.insnCnt = count
        attributes.progName = name
        attributes.expectedAttachType = expectedAttachType
        // Copies rather than closures over the arrays: the result is noncopyable, which the
        // standard library's `withUnsafeBytes` cannot return.
        let instructionStorage = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(instructions.count, 1), alignment: 8)
        defer { instructionStorage.deallocate() }
        instructionStorage.copyBytes(from: instructions)
        let licenseBytes = Array(license.utf8) + [0]
        let licenseStorage = UnsafeMutableRawBufferPointer.allocate(byteCount: licenseBytes.count, alignment: 1)
        defer { licenseStorage.deallocate() }
        licenseStorage.copyBytes(from: licenseBytes)
        attributes.insns = address(of: instructionStorage.baseAddress)
        attributes.license = address(of: licenseStorage.baseAddress)
        return try progLoad(attributes, logLevel: logLevel, logSize: logSize)
    }

    /// Runs `program` on `data` with `BPF_PROG_TEST_RUN` and returns its return value. With
    /// `dataOutCapacity` above 0 the packet as the program left it is returned too.
    public static func testRun(
        program: borrowing FileDescriptor, data: [UInt8], repeat count: UInt32 = 1, dataOutCapacity: Int = 0
    ) throws(BPFSyscallError) -> ProgramTestRun {
        guard let dataSize = UInt32(exactly: data.count), let outSize = UInt32(exactly: max(dataOutCapacity, 0))
        else {
            throw BPFSyscallError(command: .progTestRun, errno: .invalidArgument)
        }
        var output = [UInt8](repeating: 0, count: Int(outSize))
        var attributes = ProgTestRunAttr()
        attributes.progFD = UInt32(bitPattern: program.rawValue)
        attributes.dataSizeIn = dataSize
        attributes.dataSizeOut = outSize
        attributes.repeat = count
        let result = data.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                attributes.dataIn = address(of: input.baseAddress)
                attributes.dataOut = outSize > 0 ? address(of: out.baseAddress) : 0
                return Result { () throws(BPFSyscallError) in try progTestRun(&attributes) }
            }
        }
        try result.get()
        output.removeSubrange(min(Int(attributes.dataSizeOut), output.count)...)
        return ProgramTestRun(returnValue: attributes.retval, duration: attributes.duration, dataOut: output)
    }

    // MARK: - Helpers

    static func adopt(_ result: Int, command: BPFCommand) throws(BPFSyscallError) -> FileDescriptor {
        guard let raw = Int32(exactly: result) else {
            throw BPFSyscallError(command: command, errno: .outOfRange)
        }
        do {
            return try FileDescriptor(adopting: raw)
        } catch {
            throw BPFSyscallError(command: command, errno: error)
        }
    }

    /// The text of a kernel log buffer: the bytes before the first NUL.
    static func decodeLog(_ buffer: [UInt8]) -> String {
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length], as: UTF8.self)
    }

    /// What a load with a log does after it failed with `errno`.
    enum LogRetryOutcome: Equatable {
        /// The log was cut short: load again with a buffer of this size.
        case retry(size: Int)
        /// Report `errno`; `logTooSmall` when it is `ENOSPC` for a log that did not fit.
        case fail(errno: Errno, logTooSmall: Bool)
    }

    /// Decides whether a failed load with a `size`-byte log is repeated with a larger log.
    ///
    /// Only `ENOSPC` with a log that filled its buffer counts as a log that was cut short: the
    /// kernel then says it needed at least the whole buffer (`log_true_size`, Linux 6.4 and
    /// later), or, where it does not report that (0), the text runs to the buffer's last byte.
    /// At ``maximumVerifierLogSize`` the log is not grown again, and since the kernel's `ENOSPC`
    /// hides the verifier's real error, `errorWithoutLog` (what the load without a log got)
    /// is reported in its place when there is one.
    static func logRetryOutcome(
        errno: Errno, size: Int, log: String, kernelReported trueSize: UInt32, errorWithoutLog: Errno?
    ) -> LogRetryOutcome {
        guard errno == .noSpace else {
            return .fail(errno: errno, logTooSmall: false)
        }
        let filled = trueSize != 0 ? Int(trueSize) >= size : log.utf8.count >= size - 1
        guard filled else {
            return .fail(errno: errno, logTooSmall: false)
        }
        guard size < maximumVerifierLogSize else {
            if let errorWithoutLog, errorWithoutLog != .noSpace {
                return .fail(errno: errorWithoutLog, logTooSmall: false)
            }
            return .fail(errno: errno, logTooSmall: true)
        }
        return .retry(size: grownLogSize(from: size, kernelReported: trueSize))
    }

    /// The next log buffer size after `ENOSPC`: what the kernel said it needs, else four times as
    /// much, never above ``maximumVerifierLogSize``.
    static func grownLogSize(from size: Int, kernelReported trueSize: UInt32) -> Int {
        let reported = Int(trueSize)
        let grown = reported > size ? reported : size.multipliedReportingOverflow(by: 4).partialValue
        return min(max(grown, size + 1), maximumVerifierLogSize)
    }
}
