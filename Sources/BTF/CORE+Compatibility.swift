// The three relations CO-RE uses between a local and a target type: field compatibility (for
// field relocations), type compatibility (for type id, existence and size) and type matching
// (for `bpf_core_type_matches`), with libbpf's rules.

/// Compares types of the program's BTF with types of one target spec.
struct COREMatcher {
    let local: BTFSpec
    let target: BTFSpec

    /// libbpf's recursion limit for nested types.
    static let depthLimit = 32

    /// Same kind, where enum and enum64 count as one kind.
    static func kindsAreCompatible(_ a: BTFType, _ b: BTFType) -> Bool {
        a.kind == b.kind || (a.enumeration != nil && b.enumeration != nil)
    }

    static func intHasBitOffset(_ type: BTFType) -> Bool {
        if case .int(let t) = type { return t.offset != 0 }
        return false
    }

    static func namesMatch(_ local: String, _ target: String) -> Bool {
        if target.isEmpty { return local.isEmpty }
        return essentialName(local) == essentialName(target)
    }

    /// Field compatibility (`bpf_core_fields_are_compat`): composites match composites, pointers
    /// and floats match their kind, enums and forward declarations need equal essential names
    /// (or one anonymous), integers match unless they are old-style bitfield integers, arrays
    /// compare their element types.
    func fieldsAreCompatible(_ localID: BTFTypeID, _ targetID: BTFTypeID) throws -> Bool {
        var localID = localID
        var targetID = targetID
        for _ in 0..<Self.depthLimit {
            let (_, localType) = try local.coreSkipModifiers(localID)
            let (_, targetType) = try target.coreSkipModifiers(targetID)
            if localType.isComposite && targetType.isComposite { return true }
            guard Self.kindsAreCompatible(localType, targetType) else { return false }
            switch localType {
            case .pointer, .float: return true
            case .forward, .enum, .enum64:
                let localName = essentialName(localType.name)
                let targetName = essentialName(targetType.name)
                return localName.isEmpty || targetName.isEmpty || localName == targetName
            case .int: return !Self.intHasBitOffset(localType) && !Self.intHasBitOffset(targetType)
            case .array(let localArray):
                guard case .array(let targetArray) = targetType else { return false }
                localID = localArray.elementType
                targetID = targetArray.elementType
            default: return false
            }
        }
        throw COREFailure(.btf(.invalidType(id: localID, offset: 0, reason: "types nest deeper than \(Self.depthLimit)")))
    }

    /// Type compatibility (`bpf_core_types_are_compat`), for type id, existence and size
    /// relocations: the kinds agree level by level through pointers, arrays and function
    /// prototypes (same parameter count); composites, enums and forward declarations end the
    /// comparison.
    func typesAreCompatible(_ localID: BTFTypeID, _ targetID: BTFTypeID, level: Int = COREMatcher.depthLimit) throws -> Bool {
        guard Self.kindsAreCompatible(try local.type(localID), try target.type(targetID)) else { return false }
        var localID = localID
        var targetID = targetID
        for _ in 0..<Self.depthLimit {
            let (_, localType) = try local.coreSkipModifiers(localID)
            let (_, targetType) = try target.coreSkipModifiers(targetID)
            guard Self.kindsAreCompatible(localType, targetType) else { return false }
            switch localType {
            case .void, .struct, .union, .enum, .enum64, .forward: return true
            case .int: return !Self.intHasBitOffset(localType) && !Self.intHasBitOffset(targetType)
            case .pointer(let localPointer):
                guard case .pointer(let targetPointer) = targetType else { return false }
                localID = localPointer.target
                targetID = targetPointer.target
            case .array(let localArray):
                guard case .array(let targetArray) = targetType else { return false }
                localID = localArray.elementType
                targetID = targetArray.elementType
            case .functionPrototype(let localPrototype):
                guard case .functionPrototype(let targetPrototype) = targetType,
                    localPrototype.parameters.count == targetPrototype.parameters.count
                else { return false }
                for (localParameter, targetParameter) in zip(localPrototype.parameters, targetPrototype.parameters) {
                    guard level > 0 else {
                        throw COREFailure(.btf(.invalidType(id: localID, offset: 0, reason: "prototypes nest too deep")))
                    }
                    let localParameterID = try local.underlyingTypeID(of: localParameter.type)
                    let targetParameterID = try target.underlyingTypeID(of: targetParameter.type)
                    guard try typesAreCompatible(localParameterID, targetParameterID, level: level - 1) else { return false }
                }
                localID = localPrototype.returnType
                targetID = targetPrototype.returnType
            default: return false
            }
        }
        throw COREFailure(.btf(.invalidType(id: localID, offset: 0, reason: "types nest deeper than \(Self.depthLimit)")))
    }

    /// Type matching (`bpf_core_types_match`), stricter than compatibility: names match at every
    /// level after typedefs; integers need equal size and signedness; enums need equal size and
    /// every local enumerator in the target by name; composites need every local member in the
    /// target by name with a matching type (only kinds behind a pointer, where a struct also
    /// matches a forward declaration); arrays need equal lengths; prototypes equal parameters.
    func typesMatch(_ localID: BTFTypeID, _ targetID: BTFTypeID, behindPointer: Bool = false, level: Int = COREMatcher.depthLimit)
        throws -> Bool
    {
        guard level > 0 else {
            throw COREFailure(.btf(.invalidType(id: localID, offset: 0, reason: "types nest deeper than \(Self.depthLimit)")))
        }
        var localID = localID
        var targetID = targetID
        var behindPointer = behindPointer
        for _ in 0..<Self.depthLimit {
            let (_, localType) = try local.coreSkipModifiers(localID)
            let (_, targetType) = try target.coreSkipModifiers(targetID)
            guard Self.namesMatch(localType.name, targetType.name) else { return false }
            switch localType {
            case .void:
                return targetType.kind == .void
            case .forward(let localForward):
                if case .forward(let targetForward) = targetType { return localForward.isUnion == targetForward.isUnion }
                guard behindPointer else { return false }
                switch targetType {
                case .struct: return !localForward.isUnion
                case .union: return localForward.isUnion
                default: return false
                }
            case .enum(let localEnum), .enum64(let localEnum):
                guard let targetEnum = targetType.enumeration else { return false }
                return enumsMatch(localEnum, targetEnum)
            case .struct(let localComposite), .union(let localComposite):
                if behindPointer {
                    if localType.kind == targetType.kind { return true }
                    guard case .forward(let targetForward) = targetType else { return false }
                    return targetForward.isUnion == (localType.kind == .union)
                }
                guard localType.kind == targetType.kind, let targetComposite = targetType.composite else { return false }
                return try compositesMatch(localComposite, targetComposite, behindPointer: behindPointer, level: level)
            case .int(let localInt):
                guard case .int(let targetInt) = targetType else { return false }
                return localInt.size == targetInt.size
                    && localInt.encoding.contains(.signed) == targetInt.encoding.contains(.signed)
            case .pointer(let localPointer):
                guard case .pointer(let targetPointer) = targetType else { return false }
                behindPointer = true
                localID = localPointer.target
                targetID = targetPointer.target
            case .array(let localArray):
                guard case .array(let targetArray) = targetType, localArray.count == targetArray.count else { return false }
                localID = localArray.elementType
                targetID = targetArray.elementType
            case .functionPrototype(let localPrototype):
                guard case .functionPrototype(let targetPrototype) = targetType,
                    localPrototype.parameters.count == targetPrototype.parameters.count
                else { return false }
                for (localParameter, targetParameter) in zip(localPrototype.parameters, targetPrototype.parameters) {
                    guard
                        try typesMatch(
                            localParameter.type, targetParameter.type, behindPointer: behindPointer, level: level - 1)
                    else { return false }
                }
                localID = localPrototype.returnType
                targetID = targetPrototype.returnType
            default:
                return false
            }
        }
        throw COREFailure(.btf(.invalidType(id: localID, offset: 0, reason: "types nest deeper than \(Self.depthLimit)")))
    }

    private func enumsMatch(_ local: BTFEnum, _ target: BTFEnum) -> Bool {
        guard local.size == target.size, local.values.count <= target.values.count else { return false }
        return local.values.allSatisfy { value in
            target.values.contains { Self.namesMatch(value.name, $0.name) }
        }
    }

    private func compositesMatch(_ local: BTFComposite, _ target: BTFComposite, behindPointer: Bool, level: Int) throws -> Bool {
        guard local.members.count <= target.members.count else { return false }
        for localMember in local.members {
            var matched = false
            for targetMember in target.members where Self.namesMatch(localMember.name, targetMember.name) {
                if try typesMatch(localMember.type, targetMember.type, behindPointer: behindPointer, level: level - 1) {
                    matched = true
                    break
                }
            }
            if !matched { return false }
        }
        return true
    }
}
