import EBPFASM
import EBPFSys

/// How a program is loaded: how much the verifier writes to its log, and how large a buffer the
/// log starts with.
public struct ProgramOptions: Sendable, Hashable {
    /// The log level of a load that succeeds on the first try. Empty (the default) loads without
    /// a log first, which verifies faster, and only on failure loads again with
    /// ``VerifierLogLevel/instructions`` so the error says why. A level set here (for instance
    /// ``VerifierLogLevel/statistics``) asks for the log on every load; ``Program/verifierLog``
    /// then holds it.
    public var logLevel: VerifierLogLevel
    /// The initial size of the log buffer in bytes; it grows when the kernel reports it is too small.
    public var logSize: Int
    /// Never ask for a log, not even after a failure: errors then carry no verifier output.
    public var logDisabled: Bool

    public init(logLevel: VerifierLogLevel = [], logSize: Int = Sys.defaultVerifierLogSize, logDisabled: Bool = false) {
        self.logLevel = logLevel
        self.logSize = logSize
        self.logDisabled = logDisabled
    }
}

/// A program loaded into the kernel, owning one file descriptor.
///
/// The descriptor is closed when the last reference goes away or when ``close()`` is called;
/// closing twice does nothing. Attached links keep the program alive in the kernel on their own.
///
/// ```swift
/// let spec = ProgramSpec(name: "accept_all", type: .socketFilter, instructions: [
///     .mov64(.r0, -1), .exit(),
/// ])
/// let program = try Program(spec: spec)
/// let run = try program.testRun(data: [UInt8](repeating: 0, count: 14))
/// ```
public final class Program: Sendable {
    /// The program's full name (the kernel keeps at most its first 15 bytes).
    public let name: String
    public let type: ProgramType
    /// The expected attach type it was loaded with; nil when none was given or it is not known
    /// (programs opened by ID or path).
    public let attachType: AttachType?
    /// The verifier's log of the successful load: empty unless ``ProgramOptions/logLevel`` asked
    /// for one.
    public let verifierLog: String
    /// The ELF section the program came from (`tracepoint/syscalls/sys_enter_execve`), which says
    /// where it attaches; nil for programs opened by ID or path and specs without one.
    public let sectionName: String?

    let descriptor: SharedDescriptor
    let pinState: PinState

    // MARK: - Loading

    /// Loads the program `spec` describes.
    ///
    /// The instructions must be fully resolved: references to maps, subprograms and kernel
    /// symbols by name are the linker's work, and one left over is an error naming the
    /// instruction and the symbol. A rejection by the verifier gives a ``ProgramError`` whose
    /// ``ProgramError/verifierError`` carries the log. Nothing is left open on failure.
    public convenience init(spec: ProgramSpec, options: ProgramOptions = ProgramOptions()) throws(ProgramError) {
        // A program on its own is a collection load with nothing to add: no object BTF, no
        // attach target, no module kfuncs, no token.
        try self.init(linked: spec, context: ProgramLoadContext(), options: options)
    }

    static func loadFailureReason(_ error: BPFSyscallError, programName: String) -> ProgramError.Reason {
        switch error.hint {
        case .programRejected?, .logBufferTooSmall?:
            return .verifier(VerifierError(programName: programName, syscallError: error))
        default:
            return .syscall(error)
        }
    }

    init(
        owning descriptor: consuming FileDescriptor, name: String, type: ProgramType, attachType: AttachType?,
        verifierLog: String, pinnedPath: String? = nil, sectionName: String? = nil
    ) {
        self.name = name
        self.type = type
        self.attachType = attachType
        self.verifierLog = verifierLog
        self.sectionName = sectionName
        self.descriptor = SharedDescriptor(descriptor)
        self.pinState = PinState(pinnedPath)
    }

    /// Takes ownership of a program descriptor obtained elsewhere and reads its name and type
    /// from the kernel. The descriptor is closed if this throws.
    public convenience init(adopting descriptor: consuming FileDescriptor) throws(ProgramError) {
        try self.init(adopting: descriptor, pinnedPath: nil)
    }

    private convenience init(adopting descriptor: consuming FileDescriptor, pinnedPath: String?) throws(ProgramError) {
        let info: ProgInfo
        do throws(BPFSyscallError) {
            info = try Sys.objectInfo(of: descriptor, as: ProgInfo.self)
        } catch {
            throw ProgramError(
                programName: pinnedPath ?? "fd \(descriptor.rawValue)", operation: .open, reason: .syscall(error))
        }
        self.init(
            owning: descriptor, name: info.name.string, type: ProgramType(rawValue: info.type), attachType: nil,
            verifierLog: "", pinnedPath: pinnedPath)
    }

    /// Opens the program pinned at `path` (on a BPF file system).
    public convenience init(pinnedAt path: String) throws(ProgramError) {
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            descriptor = try Sys.openPinned(at: path)
        } catch {
            throw ProgramError(programName: path, operation: .open, reason: .syscall(error))
        }
        try self.init(adopting: descriptor, pinnedPath: path)
    }

    /// Opens the loaded program with kernel-wide ID `id` (`BPF_PROG_GET_FD_BY_ID`; needs
    /// CAP_SYS_ADMIN).
    public convenience init(id: UInt32) throws(ProgramError) {
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            descriptor = try Sys.openObject(.program, id: id)
        } catch {
            throw ProgramError(programName: "id \(id)", operation: .open, reason: .syscall(error))
        }
        try self.init(adopting: descriptor, pinnedPath: nil)
    }

    /// The IDs of every program loaded in the kernel, in ascending order (`BPF_PROG_GET_NEXT_ID`).
    public static func allIDs() throws(BPFSyscallError) -> [UInt32] {
        var ids: [UInt32] = []
        var current: UInt32 = 0
        while let next = try Sys.nextID(of: .program, after: current) {
            ids.append(next)
            current = next
        }
        return ids
    }

    // MARK: - The descriptor

    /// The program's raw file descriptor, for attaching it (the Link module) or for other system
    /// calls; -1 once closed.
    ///
    /// The number stays owned by this object: do not close it, and do not use it after the
    /// program may have been closed. ``withFileDescriptorValue(_:)`` guarantees it stays open.
    public var fileDescriptorValue: Int32 {
        descriptor.isClosed ? -1 : descriptor.rawValue
    }

    /// Runs `body` with the raw descriptor, which stays open until `body` returns, even if another
    /// thread calls ``close()`` meanwhile; nil when the program is closed.
    public func withFileDescriptorValue<Result, Failure: Error>(
        _ body: (Int32) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        try descriptor.borrowIfOpen(body)
    }

    /// A new descriptor for this program that the caller owns.
    public func duplicateFileDescriptor() throws(ProgramError) -> FileDescriptor {
        try descriptor.duplicate(orThrow: { error(.clone, .closed) }, wrapping: { error(.clone, .descriptor($0)) })
    }

    /// A second `Program` for the same kernel program, with a descriptor of its own.
    public func clone() throws(ProgramError) -> Program {
        let copy = try duplicateFileDescriptor()
        return Program(
            owning: copy, name: name, type: type, attachType: attachType, verifierLog: verifierLog,
            sectionName: sectionName)
    }

    /// Closes the descriptor (after operations still running on other threads). Calling it again
    /// does nothing. Does not unpin.
    public func close() throws(ProgramError) {
        do {
            try descriptor.close()
        } catch {
            throw self.error(.close, .descriptor(error))
        }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool {
        descriptor.isClosed
    }

    func error(_ operation: ProgramError.Operation, _ reason: ProgramError.Reason) -> ProgramError {
        ProgramError(programName: name, operation: operation, reason: reason)
    }

    func withRawDescriptor<Result>(
        _ operation: ProgramError.Operation, _ body: (UInt32) throws(ProgramError) -> Result
    ) throws(ProgramError) -> Result {
        try descriptor.borrow(orThrow: { error(operation, .closed) }) { (raw: Int32) throws(ProgramError) in
            try body(UInt32(bitPattern: raw))
        }
    }

    // MARK: - Pinning

    /// Pins the program at `path`, which must be on a BPF file system.
    public func pin(at path: String) throws(ProgramError) {
        try pinState.pin(descriptor, at: path, ifClosed: { error(.pin, .closed) }, wrapping: { error(.pin, .syscall($0)) })
    }

    /// Removes the pin this object made or was opened from. Does nothing when not pinned.
    public func unpin() throws(ProgramError) {
        if let failure = pinState.remove() {
            throw error(.unpin, .unlinkFailed(path: failure.path, errno: failure.errno))
        }
    }

    /// The path the program was pinned at or opened from, nil when not pinned.
    public var pinnedPath: String? {
        pinState.current
    }
}

// MARK: - Unresolved references

extension Sequence where Element == Instruction {
    /// The first instruction that still refers to something by name only, with its index
    /// (instructions counted, a `lddw` once) and the name. The loader must resolve these first:
    /// map loads without a descriptor, calls and function addresses without an offset, kernel
    /// function calls and kernel variables without a BTF ID, and jumps to labels.
    public var firstUnresolvedReference: (index: Int, symbol: String)? {
        // An array is read in place: copying each instruction would retain and release its names.
        let contiguous = withContiguousStorageIfAvailable { buffer -> (index: Int, symbol: String)? in
            for index in buffer.indices where buffer[index].hasSymbolReference && buffer[index].isUnresolved {
                if let symbol = buffer[index].symbolReference { return (index, symbol) }
            }
            return nil
        }
        if let contiguous { return contiguous }
        for (index, instruction) in enumerated() {
            guard let symbol = instruction.symbolReference, instruction.isUnresolved else { continue }
            return (index, symbol)
        }
        return nil
    }
}

extension Instruction {
    /// Whether this instruction's ``symbolReference`` still has to be filled in.
    fileprivate var isUnresolved: Bool {
        if isBranch {
            return true
        }
        if let source = loadImmediateSource {
            switch source {
            case .mapFileDescriptor, .mapValue, .mapIndex, .mapIndexValue:
                // Descriptors the library makes are never 0, so 0 is a placeholder.
                return immediate32 == 0 && (source == .mapFileDescriptor || source == .mapValue)
            case .function:
                return immediate32 == -1
            case .btfID:
                return immediate32 == 0
            default:
                return false
            }
        }
        if isSubprogramCall || isKernelFunctionCall {
            return immediate32 == -1
        }
        return false
    }
}
