import EBPFELFFile

/// The instruction sets whose USDT argument strings can be parsed, with the register layout of
/// the `struct pt_regs` a uprobe program receives on each.
public enum USDTArchitecture: String, Sendable, Hashable, CaseIterable {
    /// `-4@%edi`, `8@-16(%rbp)`, `8@(%rax)`, `-4@$5`.
    case x86_64
    /// `-4@x1`, `8@[sp, 96]`, `8@[x2]`, `4@5`.
    case arm64
    /// `-4@%r2`, `8@160(%r15)`, `4@5`.
    case s390x
    /// `-4@a0`, `8@-24(s0)`, `4@5`.
    case riscv64

    /// The architecture of an ELF file's `e_machine`, nil for one USDT support does not cover.
    public init?(machine: ELFMachine) {
        switch machine {
        case .x86_64: self = .x86_64
        case .aarch64: self = .arm64
        case ELFMachine(rawValue: 22): self = .s390x
        case .riscv: self = .riscv64
        default: return nil
        }
    }

    /// The byte offset of register `name` in the `pt_regs` the kernel hands a uprobe program
    /// (x86-64 `struct pt_regs`, arm64 `struct user_pt_regs`, s390x `user_pt_regs`, riscv64
    /// `struct user_regs_struct`), nil for a register the architecture does not have.
    public func registerOffset(_ name: String) -> Int16? {
        switch self {
        case .x86_64:
            for (index, aliases) in Self.x86Registers.enumerated() where aliases.contains(name) {
                return Self.x86Offsets[index]
            }
            return nil
        case .arm64:
            // regs[0...30], then sp.
            if name == "sp" { return 31 * 8 }
            guard name.hasPrefix("x"), let number = Int(name.dropFirst()), (0...30).contains(number),
                name.dropFirst() == Substring(String(number))
            else { return nil }
            return Int16(number * 8)
        case .s390x:
            // args[1] (8 bytes) and psw (mask and address, 16 bytes) precede gprs[16].
            guard name.hasPrefix("r"), let number = Int(name.dropFirst()), (0...15).contains(number),
                name.dropFirst() == Substring(String(number))
            else { return nil }
            return Int16(24 + number * 8)
        case .riscv64:
            guard let index = Self.riscvRegisters.firstIndex(of: name) else { return nil }
            return Int16(index * 8)
        }
    }

    /// x86-64 registers by their 64-, 32-, 16- and 8-bit names, in the order of `x86Offsets`.
    private static let x86Registers: [[String]] = [
        ["rip", "eip"], ["rax", "eax", "ax", "al"], ["rbx", "ebx", "bx", "bl"], ["rcx", "ecx", "cx", "cl"],
        ["rdx", "edx", "dx", "dl"], ["rsi", "esi", "si", "sil"], ["rdi", "edi", "di", "dil"],
        ["rbp", "ebp", "bp", "bpl"], ["rsp", "esp", "sp", "spl"],
        ["r8", "r8d", "r8w", "r8b"], ["r9", "r9d", "r9w", "r9b"], ["r10", "r10d", "r10w", "r10b"],
        ["r11", "r11d", "r11w", "r11b"], ["r12", "r12d", "r12w", "r12b"], ["r13", "r13d", "r13w", "r13b"],
        ["r14", "r14d", "r14w", "r14b"], ["r15", "r15d", "r15w", "r15b"],
    ]
    /// Where each of `x86Registers` sits in x86-64 `struct pt_regs`, whose 8-byte fields run r15,
    /// r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs,
    /// eflags, rsp, ss.
    private static let x86Offsets: [Int16] = [128, 80, 40, 88, 96, 104, 112, 32, 152, 72, 64, 56, 48, 24, 16, 8, 0]

    /// riscv64 `struct user_regs_struct`: pc first, then x1...x31 by their ABI names.
    private static let riscvRegisters = [
        "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
        "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
    ]
}

/// One argument of a USDT probe as its note describes it (`-4@%edi`): its size, signedness and
/// where the value is when the probe fires.
public struct USDTArgument: Sendable, Hashable, CustomStringConvertible {
    /// Where the value is.
    public enum Location: Sendable, Hashable {
        /// A constant (`$5` on x86-64, a bare number elsewhere).
        case constant(Int64)
        /// The value of a register; `offset` is its place in `pt_regs`.
        case register(name: String, offset: Int16)
        /// Memory at a register plus `displacement` (`-16(%rbp)`, `[sp, 96]`).
        case memory(register: String, offset: Int16, displacement: Int64)
    }

    /// The argument's size in bytes: 1, 2, 4 or 8.
    public var size: Int
    /// Whether the value is sign-extended to 64 bits (a negative size in the note).
    public var isSigned: Bool
    /// Where the value is.
    public var location: Location
    /// The argument as the note spells it.
    public var text: String

    public var description: String { text }

    /// The most arguments libbpf's `usdt.bpf.h` (1.1) has room for in a spec.
    public static let maximumCount = 12

    /// Parses one argument of architecture `architecture`.
    /// - Throws: ``USDTArgumentFormatError`` naming the argument and what is wrong with it.
    public static func parse(
        _ text: String, architecture: USDTArchitecture
    ) throws(USDTArgumentFormatError) -> USDTArgument {
        var scanner = ArgumentScanner(text)
        func fail(_ reason: String) -> USDTArgumentFormatError { USDTArgumentFormatError(argument: text, reason: reason) }
        guard let sizeValue = scanner.integer() else { throw fail("no size before '@'") }
        guard scanner.take("@") else { throw fail("no '@' after the size") }
        let magnitude = sizeValue.magnitude
        guard [1, 2, 4, 8].contains(magnitude) else { throw fail("size \(sizeValue) is not 1, 2, 4 or 8 bytes") }
        let location: Location
        switch architecture {
        case .x86_64: location = try x86Location(&scanner, fail: fail)
        case .arm64: location = try arm64Location(&scanner, fail: fail)
        case .s390x: location = try s390xLocation(&scanner, fail: fail)
        case .riscv64: location = try riscvLocation(&scanner, fail: fail)
        }
        scanner.skipSpaces()
        guard scanner.atEnd else { throw fail("unexpected '\(scanner.rest)' after the location") }
        return USDTArgument(size: Int(magnitude), isSigned: sizeValue < 0, location: location, text: text)
    }

    /// Parses a note's whole argument string (arguments separated by spaces). An empty string is
    /// a probe without arguments.
    public static func parseList(
        _ text: String, architecture: USDTArchitecture
    ) throws(USDTArgumentFormatError) -> [USDTArgument] {
        var arguments: [USDTArgument] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            arguments.append(try parse(String(word), architecture: architecture))
        }
        guard arguments.count <= maximumCount else {
            throw USDTArgumentFormatError(
                argument: text, reason: "\(arguments.count) arguments; usdt.bpf.h has room for \(maximumCount)")
        }
        return arguments
    }

    // MARK: - Architectures

    private static func register(
        _ name: String, _ architecture: USDTArchitecture, fail: (String) -> USDTArgumentFormatError
    ) throws(USDTArgumentFormatError) -> Int16 {
        guard let offset = architecture.registerOffset(name) else {
            throw fail("unknown \(architecture.rawValue) register '\(name)'")
        }
        return offset
    }

    private static func x86Location(
        _ scanner: inout ArgumentScanner, fail: (String) -> USDTArgumentFormatError
    ) throws(USDTArgumentFormatError) -> Location {
        if scanner.take("$") {
            guard let value = scanner.integer() else { throw fail("a constant must be a decimal number") }
            return .constant(value)
        }
        if scanner.take("%") {
            let name = scanner.word()
            if scanner.peek(":") { throw fail("segment-relative operands (%\(name):...) cannot be expressed") }
            return .register(name: name, offset: try register(name, .x86_64, fail: fail))
        }
        var displacement: Int64 = 0
        if !scanner.peek("(") {
            guard let value = scanner.integer() else {
                throw fail("a memory operand needs a decimal displacement (symbolic ones cannot be expressed)")
            }
            displacement = value
        }
        guard scanner.take("("), scanner.take("%") else { throw fail("expected '(%register)'") }
        let name = scanner.word()
        if scanner.peek(",") {
            throw fail("indexed (SIB) memory operands cannot be expressed; only base register plus displacement")
        }
        guard scanner.take(")") else { throw fail("expected ')' after %\(name)") }
        return .memory(register: name, offset: try register(name, .x86_64, fail: fail), displacement: displacement)
    }

    private static func arm64Location(
        _ scanner: inout ArgumentScanner, fail: (String) -> USDTArgumentFormatError
    ) throws(USDTArgumentFormatError) -> Location {
        if scanner.take("[") {
            let name = scanner.word()
            var displacement: Int64 = 0
            if scanner.take(",") {
                guard let value = scanner.integer() else { throw fail("expected a decimal offset after '\(name),'") }
                displacement = value
            }
            guard scanner.take("]") else { throw fail("expected ']'") }
            return .memory(register: name, offset: try register(name, .arm64, fail: fail), displacement: displacement)
        }
        if let value = scanner.integer() { return .constant(value) }
        let name = scanner.word()
        return .register(name: name, offset: try register(name, .arm64, fail: fail))
    }

    private static func s390xLocation(
        _ scanner: inout ArgumentScanner, fail: (String) -> USDTArgumentFormatError
    ) throws(USDTArgumentFormatError) -> Location {
        if scanner.take("%") {
            let name = scanner.word()
            return .register(name: name, offset: try register(name, .s390x, fail: fail))
        }
        guard let value = scanner.integer() else { throw fail("expected %register, a number or offset(%register)") }
        guard scanner.take("(") else { return .constant(value) }
        guard scanner.take("%") else { throw fail("expected '%' in the base register") }
        let name = scanner.word()
        if scanner.peek(",") { throw fail("indexed memory operands cannot be expressed") }
        guard scanner.take(")") else { throw fail("expected ')' after %\(name)") }
        return .memory(register: name, offset: try register(name, .s390x, fail: fail), displacement: value)
    }

    private static func riscvLocation(
        _ scanner: inout ArgumentScanner, fail: (String) -> USDTArgumentFormatError
    ) throws(USDTArgumentFormatError) -> Location {
        if let value = scanner.integer() {
            guard scanner.take("(") else { return .constant(value) }
            let name = scanner.word()
            guard scanner.take(")") else { throw fail("expected ')' after \(name)") }
            return .memory(register: name, offset: try register(name, .riscv64, fail: fail), displacement: value)
        }
        let name = scanner.word()
        return .register(name: name, offset: try register(name, .riscv64, fail: fail))
    }
}

/// An argument string that USDT support cannot express (libbpf 1.1's forms are the ones it can).
public struct USDTArgumentFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The argument (or the whole argument string, for a count problem).
    public var argument: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "argument '\(argument)': \(reason)" }
}

/// A cursor over an argument's bytes; spaces around tokens are skipped, as the notes' producers
/// never put any but hand-written ones might.
struct ArgumentScanner {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    var atEnd: Bool { position == bytes.count }
    var rest: String { String(decoding: bytes[position...], as: UTF8.self) }

    mutating func skipSpaces() {
        while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
    }

    mutating func peek(_ character: Unicode.Scalar) -> Bool {
        skipSpaces()
        return position < bytes.count && bytes[position] == UInt8(ascii: character)
    }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard peek(character) else { return false }
        position += 1
        return true
    }

    /// An optionally signed decimal integer that fits in 64 bits; nil (without moving) otherwise.
    mutating func integer() -> Int64? {
        skipSpaces()
        var cursor = position
        var negative = false
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "-") || bytes[cursor] == UInt8(ascii: "+") {
            negative = bytes[cursor] == UInt8(ascii: "-")
            cursor += 1
        }
        var magnitude: UInt64 = 0
        let digitsStart = cursor
        while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[cursor] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
            cursor += 1
        }
        guard cursor > digitsStart else { return nil }
        let value: Int64
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        } else {
            guard magnitude <= UInt64(Int64.max) else { return nil }
            value = Int64(magnitude)
        }
        position = cursor
        return value
    }

    /// Letters and digits (a register name).
    mutating func word() -> String {
        skipSpaces()
        let start = position
        while position < bytes.count,
            (bytes[position] >= UInt8(ascii: "a") && bytes[position] <= UInt8(ascii: "z"))
                || (bytes[position] >= UInt8(ascii: "A") && bytes[position] <= UInt8(ascii: "Z"))
                || (bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9"))
        {
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }
}
