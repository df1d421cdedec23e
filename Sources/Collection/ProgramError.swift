import EBPFASM
import EBPFSys

/// A program operation that failed: which program, which operation, and why.
///
/// `description` reads like `load program xdp_drop: instruction 4 refers to unresolved symbol
/// counts`.
public struct ProgramError: Error, CustomStringConvertible, Sendable {
    public var programName: String
    public var operation: Operation
    public var reason: Reason

    public init(programName: String, operation: Operation, reason: Reason) {
        self.programName = programName
        self.operation = operation
        self.reason = reason
    }

    /// What was being done to the program.
    public enum Operation: String, Sendable, Hashable {
        case load, open, pin, unpin, close, clone
        case testRun = "test run"
        case info = "get info of"
        case bindMap = "bind a map to"
    }

    /// Why it failed.
    public enum Reason: Sendable {
        /// The verifier rejected the program; the error carries its log.
        case verifier(VerifierError)
        /// An instruction still refers to a map, function or kernel symbol by name: the linker
        /// resolves those before a program can be loaded. `index` counts instructions (a 16-byte
        /// `lddw` once).
        case unresolvedReference(index: Int, symbol: String)
        /// The program has no instructions.
        case noInstructions
        /// An instruction cannot be encoded.
        case encoding(InstructionEncodingError)
        /// The program's name is one the kernel refuses.
        case invalidName(BPFObjectNameError)
        /// A test run's output did not fit the buffer offered for it.
        case outputTooLarge(needed: Int, offered: Int)
        /// The program was closed before the operation.
        case closed
        /// Removing the pin file failed.
        case unlinkFailed(path: String, errno: Errno)
        /// Duplicating or closing the descriptor failed.
        case descriptor(Errno)
        /// The kernel refused the operation.
        case syscall(BPFSyscallError)
    }

    /// The verifier's error, when the verifier rejected the program.
    public var verifierError: VerifierError? {
        if case .verifier(let error) = reason { return error }
        return nil
    }

    /// The kernel's error, when the kernel refused the operation.
    public var syscallError: BPFSyscallError? {
        switch reason {
        case .syscall(let error): error
        case .verifier(let error): error.syscallError
        default: nil
        }
    }

    public var description: String {
        if case .verifier(let error) = reason {
            return error.description
        }
        return "\(operation.rawValue) program \(programName): \(reason)"
    }
}

extension ProgramError.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .verifier(let error):
            return "\(error)"
        case .unresolvedReference(let index, let symbol):
            return "instruction \(index) refers to unresolved symbol \(symbol)"
        case .noInstructions:
            return "the program has no instructions"
        case .encoding(let error):
            return "\(error)"
        case .invalidName(let error):
            return "\(error)"
        case .outputTooLarge(let needed, let offered):
            return "the output needs \(needed) bytes, \(offered) were offered"
        case .closed:
            return "the program is closed"
        case .unlinkFailed(let path, let errno):
            return "removing \(path): \(errno)"
        case .descriptor(let errno):
            return "\(errno)"
        case .syscall(let error):
            return "\(error)"
        }
    }
}
