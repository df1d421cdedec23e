/// A named position in a program being built; jumps to it are resolved by ``ProgramBuilder``.
public struct Label: Hashable, Sendable {
    public var name: String

    public init(_ name: String) {
        self.name = name
    }
}

/// One element of a program being built.
public enum ProgramItem: Hashable, Sendable {
    case instruction(Instruction)
    case label(String)
}

/// Why ``ProgramBuilder/build()`` failed.
public enum ProgramBuildError: Error, Hashable, Sendable {
    /// Two labels, or a label and an instruction's ``Instruction/symbol``, share a name.
    case duplicateLabel(String)
    /// A jump at `index` refers to a label the program does not define.
    case unknownLabel(String, index: Int)
    /// The distance from the instruction at `index` to `label`, in raw slots, does not fit the
    /// instruction's offset field.
    case offsetOutOfRange(label: String, index: Int, distance: Int)
}

extension ProgramBuildError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .duplicateLabel(let name):
            "label \(name) is defined more than once"
        case .unknownLabel(let name, let index):
            "instruction \(index): jump to unknown label \(name)"
        case .offsetOutOfRange(let label, let index, let distance):
            "instruction \(index): distance \(distance) to label \(label) does not fit the offset field"
        }
    }
}

/// Builds a program from instructions and labels, resolving jumps to labels into offsets.
///
/// Write the program with the result builder or append to it:
///
/// ```swift
/// let program = try ProgramBuilder {
///     Instruction.mov64(.r0, 0)
///     Instruction.jumpIf(.r1, .equal, 0, label: "out")
///     Instruction.mov64(.r0, 1)
///     Label("out")
///     Instruction.exit()
/// }.build()
/// ```
///
/// Branches (conditional jumps, `goto`, `gotol`, `may_goto`) whose ``Instruction/symbolReference``
/// names a label get the distance in raw slots and lose the reference; an unknown name is an error.
/// Subprogram calls and function-address loads that name a label or an instruction's
/// ``Instruction/symbol`` get the distance and keep the reference; other names are left for the
/// linker.
@resultBuilder
public struct ProgramBuilder: Sendable {
    /// The instructions and labels in order.
    public private(set) var items: [ProgramItem]

    public init() {
        items = []
    }

    public init(@ProgramBuilder _ content: () -> [ProgramItem]) {
        items = content()
    }

    /// Appends an instruction.
    public mutating func append(_ instruction: Instruction) {
        items.append(.instruction(instruction))
    }

    /// Appends instructions.
    public mutating func append(contentsOf instructions: some Sequence<Instruction>) {
        items.append(contentsOf: instructions.map { .instruction($0) })
    }

    /// Defines a label at the next instruction appended.
    public mutating func label(_ name: String) {
        items.append(.label(name))
    }

    /// The instructions with every jump to a label resolved.
    public func build() throws(ProgramBuildError) -> [Instruction] {
        var instructions: [Instruction] = []
        var labelSlots: [String: Int] = [:]
        var slot = 0
        func define(_ name: String, at slot: Int) throws(ProgramBuildError) {
            guard labelSlots.updateValue(slot, forKey: name) == nil else { throw .duplicateLabel(name) }
        }
        for item in items {
            switch item {
            case .label(let name):
                try define(name, at: slot)
            case .instruction(let instruction):
                if let symbol = instruction.symbol { try define(symbol, at: slot) }
                instructions.append(instruction)
                slot += instruction.slotCount
            }
        }

        slot = 0
        for index in instructions.indices {
            let instruction = instructions[index]
            defer { slot += instruction.slotCount }
            guard let name = instruction.symbolReference else { continue }
            let resolvesAsCall = instruction.isSubprogramCall || instruction.loadImmediateSource == .function
            guard instruction.isBranch || resolvesAsCall else { continue }
            guard let target = labelSlots[name] else {
                if resolvesAsCall { continue }
                throw .unknownLabel(name, index: index)
            }
            let distance = target - (slot + 1)
            let outOfRange = ProgramBuildError.offsetOutOfRange(label: name, index: index, distance: distance)
            if resolvesAsCall || instruction.opCode == .longJump {
                guard let value = Int32(exactly: distance) else { throw outOfRange }
                if instruction.isWide {
                    // Keep the high half: a function address load has none, but do not invent one.
                    let high = UInt64(bitPattern: instruction.constant) & 0xffff_ffff_0000_0000
                    instructions[index].constant = Int64(bitPattern: high | UInt64(UInt32(bitPattern: value)))
                } else {
                    instructions[index].constant = Int64(value)
                }
            } else {
                guard let value = Int16(exactly: distance) else { throw outOfRange }
                instructions[index].offset = value
            }
            if instruction.isBranch {
                instructions[index].symbolReference = nil
            }
        }
        return instructions
    }

    // MARK: - Result builder

    public static func buildExpression(_ instruction: Instruction) -> [ProgramItem] {
        [.instruction(instruction)]
    }

    public static func buildExpression(_ instructions: [Instruction]) -> [ProgramItem] {
        instructions.map { .instruction($0) }
    }

    public static func buildExpression(_ label: Label) -> [ProgramItem] {
        [.label(label.name)]
    }

    public static func buildExpression(_ items: [ProgramItem]) -> [ProgramItem] {
        items
    }

    public static func buildBlock(_ parts: [ProgramItem]...) -> [ProgramItem] {
        parts.flatMap { $0 }
    }

    public static func buildOptional(_ part: [ProgramItem]?) -> [ProgramItem] {
        part ?? []
    }

    public static func buildEither(first part: [ProgramItem]) -> [ProgramItem] {
        part
    }

    public static func buildEither(second part: [ProgramItem]) -> [ProgramItem] {
        part
    }

    public static func buildArray(_ parts: [[ProgramItem]]) -> [ProgramItem] {
        parts.flatMap { $0 }
    }
}
