import EBPFSys

/// The verifier rejected a program. Carries the whole log; `description` shows the part that
/// explains the rejection: the reason, the instruction it was found at, and the lines before it.
///
/// ```
/// load program bad_read: Permission denied (EACCES): R2 !read_ok
///   verifier log (last 3 of 3 lines):
///     0: R1=ctx() R10=fp0
///     0: (bf) r0 = r2
///     R2 !read_ok
///   failing instruction 0: (bf) r0 = r2
/// ```
public struct VerifierError: Error, CustomStringConvertible, Sendable {
    /// The program's name.
    public var programName: String
    /// What the kernel returned (usually `EACCES` or `EINVAL`).
    public var errno: Errno
    /// The complete log.
    public var log: String
    /// Whether the log hit the largest buffer the kernel accepts and was cut off.
    public var isLogTruncated: Bool
    /// The failed command as the system-call layer reported it.
    public var syscallError: BPFSyscallError

    /// How many lines of the log's end ``description`` shows at most.
    public static let tailLineCount = 8

    public init(programName: String, syscallError: BPFSyscallError) {
        self.programName = programName
        self.errno = syscallError.errno
        self.log = syscallError.log ?? ""
        self.isLogTruncated = syscallError.hint == .logBufferTooSmall
        self.syscallError = syscallError
    }

    /// The log's lines without the statistics the kernel appends after its verdict.
    public var meaningfulLines: [Substring] {
        var lines = log.split(whereSeparator: \.isNewline).map(trimmingTrailingWhitespace)
        lines.removeAll { $0.isEmpty }
        while let last = lines.last, VerifierError.isStatisticsLine(last) {
            lines.removeLast()
        }
        return lines
    }

    /// The line stating why the verifier gave up, the last meaningful one.
    public var reason: String? {
        meaningfulLines.last.map(String.init)
    }

    /// The last instruction the verifier printed before giving up (`12: (85) call ...`), nil
    /// when the log shows none (a log level without instructions, or a rejection before them).
    public var failingInstruction: String? {
        failingInstructionLine.map { String(meaningfulLines[$0]) }
    }

    /// The index of ``failingInstruction`` in the program, in 8-byte slots, as the verifier counts.
    public var failingInstructionIndex: Int? {
        guard let line = failingInstruction, let colon = line.firstIndex(of: ":") else { return nil }
        return Int(line[..<colon])
    }

    private var failingInstructionLine: Int? {
        let lines = meaningfulLines
        return lines.indices.last { VerifierError.isInstructionLine(lines[$0]) }
    }

    /// The lines ``description`` shows: the last ``tailLineCount`` meaningful lines, reaching back
    /// to the failing instruction when it is further up (up to twice as many lines).
    public var tail: [Substring] {
        let lines = meaningfulLines
        var start = max(lines.count - VerifierError.tailLineCount, 0)
        if let instruction = failingInstructionLine, instruction < start {
            start = max(instruction, lines.count - 2 * VerifierError.tailLineCount)
        }
        return Array(lines[start...])
    }

    public var description: String {
        var text = "load program \(programName): \(errno)"
        if let reason {
            text += ": \(reason)"
        }
        let lines = meaningfulLines
        guard !lines.isEmpty else {
            return text + " (no verifier log)"
        }
        let shown = tail
        text += "\n  verifier log (last \(shown.count) of \(lines.count) lines"
        text += isLogTruncated ? ", truncated):" : "):"
        for line in shown {
            text += "\n    \(line)"
        }
        if let instruction = failingInstruction {
            text += "\n  failing instruction \(instruction)"
        }
        return text
    }

    /// `12: (85) call bpf_map_lookup_elem#1`: an index, a colon and the opcode in parentheses.
    static func isInstructionLine(_ line: Substring) -> Bool {
        guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
            line[..<colon].allSatisfy(\.isASCIIDigit)
        else { return false }
        return line[line.index(after: colon)...].hasPrefix(" (")
    }

    static func isStatisticsLine(_ line: Substring) -> Bool {
        let prefixes = ["processed ", "verification time", "stack depth", "mark_read", "max_states_per_insn"]
        return prefixes.contains { line.hasPrefix($0) }
    }
}

private func trimmingTrailingWhitespace(_ line: Substring) -> Substring {
    var result = line
    while let last = result.last, last.isWhitespace { result = result.dropLast() }
    return result
}

extension Character {
    fileprivate var isASCIIDigit: Bool {
        ("0"..."9").contains(self)
    }
}
