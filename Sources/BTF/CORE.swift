import EBPFASM

/// CO-RE ("compile once, run everywhere"): relocating instructions that clang compiled against one
/// set of types so that they work with the types of a target kernel.
///
/// Everything here is pure: it reads the program's own BTF and the target BTF it is given and
/// makes no syscalls, so a `CollectionSpec` plus committed kernel BTF can be relocated anywhere.
/// The loader passes the running kernel's BTF (`KernelBTF.cache.vmlinux()`, then module BTF).
///
/// ```swift
/// let relocated = try CORE.relocate(
///     instructions: program.instructions, relocations: ext.coreRelocations[section] ?? [],
///     localSpec: objectBTF, targets: [try KernelBTF.cache.vmlinux()], program: section)
/// ```
public enum CORE {
    /// The immediate of the helper call that replaces an instruction whose relocation has no
    /// target, libbpf's `0xbad2310` ("bad relo"). The verifier reports `invalid func
    /// unknown#195896080` only if that instruction is reachable.
    public static let poisonHelperID: Int32 = 0xbad2310

    /// Relocates `instructions` of one program (or code section) for `targets`.
    ///
    /// `relocations` are the `.BTF.ext` CO-RE records of these instructions; their
    /// `instructionOffset` counts bytes from the first instruction given. A relocation that
    /// finds no target poisons its instruction (see ``poisonHelperID``), except the existence
    /// kinds, which become 0. The result has the same raw slot layout as the input, so jump
    /// offsets stay valid. `program` only names the program in errors.
    public static func relocate(
        instructions: [Instruction], relocations: [BTFCoreRelocation], localSpec: BTFSpec, targets: [BTFSpec],
        program: String
    ) throws(COREError) -> [Instruction] {
        let relocator = CORERelocator(localSpec: localSpec, targets: targets)
        return try relocator.relocate(instructions: instructions, relocations: relocations, program: program)
    }
}

/// Relocates programs of one object against one list of target specs, remembering candidate
/// types between relocations the way libbpf does: once a relocation has found which candidates
/// match a local type, later relocations of that type consider only those.
///
/// Use one relocator per object load. It is not meant to be shared between threads.
public final class CORERelocator {
    /// The object's own BTF, which the relocation records refer to.
    public let localSpec: BTFSpec
    /// The specs candidates are searched in, in order: the first (vmlinux) alone, and only if it
    /// has no candidate, the own types of all the others (module BTF) together.
    public let targets: [BTFSpec]
    var candidateCache: [BTFTypeID: [CORECandidate]] = [:]
    var flavouredNames: [Int: [String: [BTFTypeID]]] = [:]

    public init(localSpec: BTFSpec, targets: [BTFSpec]) {
        self.localSpec = localSpec
        self.targets = targets
    }

    /// Relocates the instructions of one program; see ``CORE/relocate(instructions:relocations:localSpec:targets:program:)``.
    public func relocate(
        instructions: [Instruction], relocations: [BTFCoreRelocation], program: String
    ) throws(COREError) -> [Instruction] {
        guard !relocations.isEmpty else { return instructions }
        let layout = RawOffsetMap(instructions)
        var replacements: [Int: [Instruction]] = [:]
        var patched = instructions
        for relocation in relocations {
            guard let index = layout.index(ofByteOffset: Int(relocation.instructionOffset)) else {
                throw COREError(
                    program: program, instructionIndex: nil, relocation: relocation, localType: "", access: "",
                    candidates: [], reason: .noInstructionAtOffset(relocation.instructionOffset))
            }
            let fixup = try resolve(relocation, program: program, instructionIndex: index)
            let outcome = fixup.patch(patched[index])
            switch outcome {
            case .patched(let instruction): patched[index] = instruction
            case .replaced(let sequence): replacements[index] = sequence
            case .failed(let reason):
                throw error(for: relocation, program: program, instructionIndex: index, reason: reason)
            }
        }
        guard !replacements.isEmpty else { return patched }
        var result: [Instruction] = []
        result.reserveCapacity(patched.count + replacements.count)
        for (index, instruction) in patched.enumerated() {
            if let sequence = replacements[index] { result += sequence } else { result.append(instruction) }
        }
        return result
    }

    /// Computes what `relocation` changes, without touching an instruction.
    ///
    /// `program` and `instructionIndex` only name the relocation in errors.
    public func resolve(
        _ relocation: BTFCoreRelocation, program: String = "", instructionIndex: Int? = nil
    ) throws(COREError) -> COREFixup {
        do {
            return try computeFixup(relocation)
        } catch let failure as COREFailure {
            throw error(for: relocation, program: program, instructionIndex: instructionIndex, reason: failure.reason)
        } catch let btf as BTFError {
            throw error(for: relocation, program: program, instructionIndex: instructionIndex, reason: .btf(btf))
        } catch {
            throw self.error(
                for: relocation, program: program, instructionIndex: instructionIndex,
                reason: .invalidAccessString(String(describing: error)))
        }
    }

    /// Builds an error with everything that explains the relocation: the local type, the access
    /// written as C and the candidates that were considered.
    func error(
        for relocation: BTFCoreRelocation, program: String, instructionIndex: Int?, reason: COREErrorReason
    ) -> COREError {
        let localType = (try? describeType(relocation.type, in: localSpec)) ?? "type \(relocation.type)"
        let access = (try? renderAccess(relocation)) ?? relocation.accessString
        let candidates = candidateCache[relocation.type] ?? (try? candidates(for: relocation.type)) ?? []
        return COREError(
            program: program, instructionIndex: instructionIndex, relocation: relocation, localType: localType,
            access: access, candidates: candidates, reason: reason)
    }
}

/// A target type that a local type's relocations were tried against.
public struct CORECandidate: Hashable, Sendable, CustomStringConvertible {
    /// The index of the spec in the relocator's `targets`.
    public var targetIndex: Int
    /// The type's id in that spec.
    public var typeID: BTFTypeID
    /// The type written as C (`struct task_struct`).
    public var name: String

    public init(targetIndex: Int, typeID: BTFTypeID, name: String) {
        self.targetIndex = targetIndex
        self.typeID = typeID
        self.name = name
    }

    public var description: String { "target \(targetIndex) [\(typeID)] \(name)" }
}

/// The outcome of one CO-RE relocation: the value the compiler put into the instruction for the
/// program's own types, and the value for the target.
public struct COREFixup: Hashable, Sendable, CustomStringConvertible {
    /// The relocation kind.
    public var kind: BTFCoreRelocationKind
    /// The value for the program's own types, which the instruction must hold.
    public var localValue: UInt64
    /// The value for the target, which the instruction gets.
    public var targetValue: UInt64
    /// No target has what the relocation asks for: the instruction is replaced by a call of the
    /// invalid helper ``CORE/poisonHelperID``.
    public var isPoisoned: Bool
    /// Whether the instruction must hold ``localValue`` (off for bitfields, whose layout the
    /// compiler and libbpf may compute differently, and for type ids, which linking renumbers).
    public var validatesLocalValue: Bool
    /// For a field offset used by a load or store: the field's size in the program's types, which
    /// the access size must equal when the sizes differ. 0 for bitfields and other kinds.
    public var localAccessSize: UInt32
    /// The field's size in the target, which the access size becomes. 0 for bitfields and other kinds.
    public var targetAccessSize: UInt32
    /// The sizes differ and the field is neither a pointer nor unsigned in both: a load or store
    /// with this offset is poisoned instead of resized.
    public var accessSizeCannotChange: Bool
    /// The target type that gave the value, nil when none did.
    public var target: CORECandidate?

    public init(
        kind: BTFCoreRelocationKind, localValue: UInt64, targetValue: UInt64, isPoisoned: Bool = false,
        validatesLocalValue: Bool = true, localAccessSize: UInt32 = 0, targetAccessSize: UInt32 = 0,
        accessSizeCannotChange: Bool = false, target: CORECandidate? = nil
    ) {
        self.kind = kind
        self.localValue = localValue
        self.targetValue = targetValue
        self.isPoisoned = isPoisoned
        self.validatesLocalValue = validatesLocalValue
        self.localAccessSize = localAccessSize
        self.targetAccessSize = targetAccessSize
        self.accessSizeCannotChange = accessSizeCannotChange
        self.target = target
    }

    public var description: String {
        isPoisoned ? "\(kind)=poison" : "\(kind)=\(localValue)->\(targetValue)"
    }
}

extension CORERelocator {
    /// The relocation's access written as C, as errors show it: `struct task_struct::comm[3]`,
    /// `enum pid_type::PIDTYPE_TGID`, `struct task_struct`. Falls back to the raw access string.
    public func accessDescription(of relocation: BTFCoreRelocation) -> String {
        (try? renderAccess(relocation)) ?? relocation.accessString
    }
}
