// Text in the syntax of llvm-objdump's BPF disassembler (LLVM 21): hexadecimal immediates and
// offsets, `w` registers for 32-bit operations and sub-word loads and stores.

extension Instruction: CustomStringConvertible {
    /// The instruction in llvm-objdump's syntax, without a jump-target label.
    public var description: String {
        disassembly()
    }

    /// The instruction in llvm-objdump's syntax; `targetLabel`, if given, is appended to branches
    /// as ` <label>`.
    ///
    /// An instruction the instruction set does not define reads `<unknown>`, as in llvm-objdump.
    public func disassembly(targetLabel: String? = nil) -> String {
        let text: String? =
            switch opCode.instructionClass {
            case .alu, .alu64: arithmeticText
            case .jmp, .jmp32: jumpText
            case .ld: loadImmediateText
            default: memoryText
            }
        guard let text else { return "<unknown>" }
        if let targetLabel, isBranch {
            return "\(text) <\(targetLabel)>"
        }
        return text
    }

    // MARK: - Operands

    private static func hex(_ value: Int64) -> String {
        value < 0 ? "-0x" + String(value.magnitude, radix: 16) : "0x" + String(value, radix: 16)
    }

    private static func signedDistance(_ value: Int64) -> String {
        value < 0 ? hex(value) : "+" + hex(value)
    }

    private static func memoryOperand(_ base: Register, _ offset: Int16) -> String {
        let magnitude = "0x" + String(Int64(offset).magnitude, radix: 16)
        return offset < 0 ? "\(base) - \(magnitude)" : "\(base) + \(magnitude)"
    }

    private static func typeName(_ size: AccessSize, signed: Bool = false) -> String {
        (signed ? "s" : "u") + String(size.byteCount * 8)
    }

    private static func registerName(_ register: Register, wide: Bool) -> String {
        wide ? register.description : register.name32
    }

    // MARK: - Classes

    private var arithmeticText: String? {
        let wide = opCode.instructionClass == .alu64
        let dst = Self.registerName(destination, wide: wide)
        let usesRegister = opCode.source == .register
        let operand = usesRegister ? Self.registerName(source, wide: wide) : Self.hex(constant)
        let operation = opCode.aluOperation
        let symbol: String
        switch operation {
        case .add: symbol = "+="
        case .sub: symbol = "-="
        case .mul: symbol = "*="
        case .div: symbol = offset == 1 ? "s/=" : "/="
        case .or: symbol = "|="
        case .and: symbol = "&="
        case .lsh: symbol = "<<="
        case .rsh: symbol = ">>="
        case .mod: symbol = offset == 1 ? "s%=" : "%="
        case .xor: symbol = "^="
        case .arsh: symbol = "s>>="
        case .neg:
            return "\(dst) = -\(dst)"
        case .mov:
            guard usesRegister else { return "\(dst) = \(operand)" }
            switch offset {
            case 1 where wide:
                let spaces = UInt32(bitPattern: immediate32)
                return "\(dst) = addr_space_cast(\(source), \(Self.hex(Int64(spaces >> 16))), \(Self.hex(Int64(spaces & 0xffff))))"
            case 8, 16, 32:
                return "\(dst) = (s\(offset))\(operand)"
            default:
                return "\(dst) = \(operand)"
            }
        case .end:
            guard let width = ByteSwapWidth(rawValue: immediate32) else { return nil }
            let name = wide ? "bswap" : usesRegister ? "be" : "le"
            return "\(destination) = \(name)\(width.rawValue) \(destination)"
        default:
            return nil
        }
        return "\(dst) \(symbol) \(operand)"
    }

    private var jumpText: String? {
        let wide = opCode.instructionClass == .jmp
        let operation = opCode.jumpOperation
        if operation.isComparison {
            let symbol: String
            switch operation {
            case .equal: symbol = "=="
            case .notEqual: symbol = "!="
            case .greaterThan: symbol = ">"
            case .greaterOrEqual: symbol = ">="
            case .lessThan: symbol = "<"
            case .lessOrEqual: symbol = "<="
            case .signedGreaterThan: symbol = "s>"
            case .signedGreaterOrEqual: symbol = "s>="
            case .signedLessThan: symbol = "s<"
            case .signedLessOrEqual: symbol = "s<="
            default: symbol = "&"
            }
            let operand = opCode.source == .register ? Self.registerName(source, wide: wide) : Self.hex(constant)
            let dst = Self.registerName(destination, wide: wide)
            return "if \(dst) \(symbol) \(operand) goto \(Self.signedDistance(Int64(offset)))"
        }
        switch opCode {
        case .jump: return "goto \(Self.signedDistance(Int64(offset)))"
        case .longJump: return "gotol \(Self.signedDistance(constant))"
        case .conditionalPseudoJump: return "may_goto \(Self.signedDistance(Int64(offset)))"
        case .call: return "call \(Self.hex(constant))"
        case .callRegister: return "callx \(destination)"
        case .exit: return "exit"
        default: return nil
        }
    }

    private var loadImmediateText: String? {
        if opCode == .loadImmediate64 {
            if source.rawValue == 0 {
                return "\(destination) = \(Self.hex(constant)) ll"
            }
            let low = Int64(UInt32(bitPattern: immediate32))
            return "ld_pseudo \(destination), \(Self.hex(Int64(source.rawValue))), \(Self.hex(low))"
        }
        let size = opCode.size
        guard size != .doubleWord else { return nil }
        let type = Self.typeName(size)
        switch opCode.mode {
        case .absolute:
            return "r0 = *(\(type) *)skb[\(Self.hex(constant))]"
        case .indirect:
            let index = constant == 0 ? "\(source)" : "\(source) + \(Self.hex(constant))"
            return "r0 = *(\(type) *)skb[\(index)]"
        default:
            return nil
        }
    }

    private var memoryText: String? {
        let size = opCode.size
        let wide = size == .doubleWord
        let type = Self.typeName(size)
        switch (opCode.instructionClass, opCode.mode) {
        case (.ldx, .memory):
            let dst = Self.registerName(destination, wide: wide)
            return "\(dst) = *(\(type) *)(\(Self.memoryOperand(source, offset)))"
        case (.ldx, .memorySignExtend):
            guard !wide else { return nil }
            return "\(destination) = *(\(Self.typeName(size, signed: true)) *)(\(Self.memoryOperand(source, offset)))"
        case (.st, .memory):
            return "*(\(type) *)(\(Self.memoryOperand(destination, offset))) = \(Self.hex(constant))"
        case (.stx, .memory):
            return "*(\(type) *)(\(Self.memoryOperand(destination, offset))) = \(Self.registerName(source, wide: wide))"
        case (.stx, .atomic):
            return atomicText
        default:
            return nil
        }
    }

    private var atomicText: String? {
        let size = opCode.size
        let operation = AtomicOperation(rawValue: immediate32)
        guard operation.isDefined(for: size) else { return nil }
        let wide = size == .doubleWord
        let type = Self.typeName(size)
        let src = Self.registerName(source, wide: wide)
        let address = Self.memoryOperand(destination, offset)
        let plainSymbol: [AtomicOperation: String] = [.add: "+=", .or: "|=", .and: "&=", .xor: "^="]
        let fetchName: [AtomicOperation: String] = [.fetchAdd: "add", .fetchOr: "or", .fetchAnd: "and", .fetchXor: "xor"]
        if let symbol = plainSymbol[operation] {
            return "lock *(\(type) *)(\(address)) \(symbol) \(src)"
        }
        if let name = fetchName[operation] {
            return "\(src) = atomic_fetch_\(name)((\(type) *)(\(address)), \(src))"
        }
        let r0 = Self.registerName(.r0, wide: wide)
        switch operation {
        case .exchange:
            return "\(src) = \(wide ? "xchg_64" : "xchg32_32")(\(address), \(src))"
        case .compareExchange:
            return "\(r0) = \(wide ? "cmpxchg_64" : "cmpxchg32_32")(\(address), \(r0), \(src))"
        case .loadAcquire:
            let dst = Self.registerName(destination, wide: wide)
            return "\(dst) = load_acquire((\(type) *)(\(Self.memoryOperand(source, offset))))"
        default:
            return "store_release((\(type) *)(\(address)), \(src))"
        }
    }
}

// MARK: - Listing

extension Collection where Element == Instruction {
    /// A listing of the program, one instruction per line prefixed by its raw slot number as
    /// llvm-objdump numbers them. A function ``Instruction/symbol`` starts a `<name>:` line; branch
    /// targets get an `LBB<slot>:` line unless a symbol names them; references are shown as comments.
    public func listing() -> String {
        let instructions = Array(self)
        let offsets = RawOffsetMap(instructions)
        var targetNames: [Int: String] = [:]
        for index in instructions.indices {
            if let symbol = instructions[index].symbol { targetNames[index] = symbol }
        }
        var branchTargets: [Int: Int] = [:]
        for index in instructions.indices where instructions[index].isBranch {
            guard let distance = instructions[index].relativeTarget,
                let target = offsets.targetIndex(from: index, distance: distance)
            else { continue }
            branchTargets[index] = target
            if targetNames[target] == nil, let slot = offsets.slot(ofIndex: target) {
                targetNames[target] = "LBB\(slot)"
            }
        }
        let width = String(Swift.max(offsets.slotCount - 1, 0)).count
        var lines: [String] = []
        for index in instructions.indices {
            let instruction = instructions[index]
            if let name = targetNames[index] {
                lines.append(instruction.symbol == nil ? "\(name):" : "<\(name)>:")
            }
            let slot = String(offsets.slot(ofIndex: index) ?? 0)
            let padded = String(repeating: " ", count: Swift.max(width - slot.count, 0)) + slot
            let label = branchTargets[index].flatMap { targetNames[$0] }
            var line = "\(padded): \(instruction.disassembly(targetLabel: label))"
            if let reference = instruction.symbolReference {
                line += " ; \(reference)"
            }
            lines.append(line)
        }
        if let endName = targetNames[instructions.count] {
            lines.append("\(endName):")
        }
        return lines.joined(separator: "\n")
    }
}
