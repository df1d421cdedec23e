// The access path of a CO-RE relocation: parsed from the access string against the local types,
// matched against a target type, and written as C for errors.

/// One semantically meaningful step of an access: a named member of a composite, or an array
/// index (`name == nil`). The first step is the index into the root pointer (`p[0]`).
struct COREAccessor: Hashable {
    /// The composite holding the member, or the array element type for an index.
    var typeID: BTFTypeID
    var index: Int
    var name: String?
}

/// An access resolved in one spec: the high-level steps, the raw indices (every level, including
/// anonymous members) and the bit offset from the start of the root type.
struct COREAccessSpec {
    let spec: BTFSpec
    let kind: BTFCoreRelocationKind
    var rootTypeID: BTFTypeID
    var accessors: [COREAccessor] = []
    var raw: [Int] = []
    var bitOffset: UInt64 = 0

    /// libbpf's `BPF_CORE_SPEC_MAX_LEN`.
    static let maximumLength = 64
}

extension BTFCoreRelocationKind {
    var isFieldBased: Bool { rawValue <= 5 }
    var isTypeBased: Bool { (6...9).contains(rawValue) || rawValue == 12 }
    var isEnumValueBased: Bool { rawValue == 10 || rawValue == 11 }
}

// MARK: - Arithmetic that reports overflow as bad input

func checkedMultiply(_ a: UInt64, _ b: UInt64) throws -> UInt64 {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw COREFailure(.invalidAccessString("offset overflows 64 bits")) }
    return product
}

func checkedAdd(_ a: UInt64, _ b: UInt64) throws -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    guard !overflow else { throw COREFailure(.invalidAccessString("offset overflows 64 bits")) }
    return sum
}

extension BTFSpec {
    /// libbpf's `btf__resolve_size`: a size or an error, never nil.
    func coreSize(of id: BTFTypeID) throws -> UInt64 {
        guard let size = try size(of: id) else {
            throw COREFailure(.invalidAccessString("type \(id) has no size"))
        }
        return size
    }

    /// The type after typedefs and qualifiers, with its id.
    func coreSkipModifiers(_ id: BTFTypeID) throws -> (id: BTFTypeID, type: BTFType) {
        let underlying = try underlyingTypeID(of: id)
        return (underlying, try type(underlying))
    }
}

extension BTFType {
    var isComposite: Bool {
        switch self {
        case .struct, .union: true
        default: false
        }
    }

    var composite: BTFComposite? {
        switch self {
        case .struct(let t), .union(let t): t
        default: nil
        }
    }

    var enumeration: BTFEnum? {
        switch self {
        case .enum(let t), .enum64(let t): t
        default: nil
        }
    }
}

// MARK: - Parsing the local access

extension CORERelocator {
    /// Parses the access string ("0:1:2") into indices.
    static func parseAccessString(_ string: String) throws -> [Int] {
        guard !string.isEmpty, !string.hasPrefix(":") else {
            throw COREFailure(.invalidAccessString("'\(string)' is empty or starts with ':'"))
        }
        var indices: [Int] = []
        for part in string.split(separator: ":", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int32(part) else {
                throw COREFailure(.invalidAccessString("'\(string)' has the index '\(part)'"))
            }
            guard indices.count < COREAccessSpec.maximumLength else {
                throw COREFailure(.invalidAccessString("'\(string)' is longer than \(COREAccessSpec.maximumLength) steps"))
            }
            indices.append(Int(value))
        }
        return indices
    }

    /// The access of `relocation` in the local types (libbpf's `bpf_core_parse_spec`).
    func parseLocalAccess(_ relocation: BTFCoreRelocation) throws -> COREAccessSpec {
        let spec = localSpec
        let kind = relocation.kind
        var access = COREAccessSpec(spec: spec, kind: kind, rootTypeID: relocation.type)
        if kind.isTypeBased {
            guard relocation.accessString == "0" else {
                throw COREFailure(.invalidAccessString("type relocations take \"0\", not '\(relocation.accessString)'"))
            }
            return access
        }
        guard kind.isFieldBased || kind.isEnumValueBased else { throw COREFailure(.unsupportedKind(kind)) }
        access.raw = try Self.parseAccessString(relocation.accessString)
        let (rootID, root) = try spec.coreSkipModifiers(relocation.type)
        let first = access.raw[0]
        if kind.isEnumValueBased {
            guard let enumeration = root.enumeration, access.raw.count == 1, first < enumeration.values.count else {
                throw COREFailure(.invalidAccessString("'\(relocation.accessString)' is not an enumerator of type \(rootID)"))
            }
            access.accessors = [COREAccessor(typeID: rootID, index: first, name: enumeration.values[first].name)]
            return access
        }
        access.accessors = [COREAccessor(typeID: rootID, index: first, name: nil)]
        access.bitOffset = try checkedMultiply(UInt64(first), try checkedMultiply(spec.coreSize(of: rootID), 8))
        var currentID = rootID
        for step in 1..<access.raw.count {
            let index = access.raw[step]
            let (id, current) = try spec.coreSkipModifiers(currentID)
            if let composite = current.composite {
                guard index < composite.members.count else {
                    throw COREFailure(.invalidAccessString("member \(index) of type \(id), which has \(composite.members.count)"))
                }
                let member = composite.members[index]
                access.bitOffset = try checkedAdd(access.bitOffset, UInt64(member.bitOffset))
                if !member.name.isEmpty {
                    access.accessors.append(COREAccessor(typeID: id, index: index, name: member.name))
                }
                currentID = member.type
            } else if case .array(let array) = current {
                let (elementID, _) = try spec.coreSkipModifiers(array.elementType)
                let flexible = try isFlexibleArray(spec, access.accessors.last, array)
                guard flexible || index < array.count else {
                    throw COREFailure(.invalidAccessString("index \(index) of an array of \(array.count)"))
                }
                access.accessors.append(COREAccessor(typeID: elementID, index: index, name: nil))
                let size = try spec.coreSize(of: elementID)
                access.bitOffset = try checkedAdd(access.bitOffset, try checkedMultiply(UInt64(index), try checkedMultiply(size, 8)))
                currentID = elementID
            } else {
                throw COREFailure(.invalidAccessString("step \(step) reaches type \(id), which is \(current.kind)"))
            }
        }
        return access
    }

    /// An array of length 0 that is the last member of the struct the previous step named.
    func isFlexibleArray(_ spec: BTFSpec, _ previous: COREAccessor?, _ array: BTFArray) throws -> Bool {
        guard let previous, previous.name != nil, array.count == 0 else { return false }
        guard let composite = try spec.type(previous.typeID).composite else { return false }
        return previous.index == composite.members.count - 1
    }

    // MARK: - Matching a target type

    /// The access of `local` in the target type `targetID` of `spec`, or nil when that type does
    /// not have it (libbpf's `bpf_core_spec_match`).
    func matchAccess(_ local: COREAccessSpec, in spec: BTFSpec, typeID: BTFTypeID) throws -> COREAccessSpec? {
        var target = COREAccessSpec(spec: spec, kind: local.kind, rootTypeID: typeID)
        if local.kind.isTypeBased {
            let matches: Bool
            if local.kind == .typeMatches {
                matches = try COREMatcher(local: localSpec, target: spec).typesMatch(local.rootTypeID, typeID)
            } else {
                matches = try COREMatcher(local: localSpec, target: spec).typesAreCompatible(local.rootTypeID, typeID)
            }
            return matches ? target : nil
        }
        guard let first = local.accessors.first else { return nil }
        if local.kind.isEnumValueBased {
            let (enumID, type) = try spec.coreSkipModifiers(typeID)
            guard let enumeration = type.enumeration, let localName = first.name else { return nil }
            let wanted = essentialName(localName)
            for (index, value) in enumeration.values.enumerated() where essentialName(value.name) == wanted {
                target.accessors = [COREAccessor(typeID: enumID, index: index, name: value.name)]
                target.raw = [index]
                return target
            }
            return nil
        }
        var targetID = typeID
        let matcher = COREMatcher(local: localSpec, target: spec)
        for (position, localAccessor) in local.accessors.enumerated() {
            let (currentID, current) = try spec.coreSkipModifiers(targetID)
            targetID = currentID
            if let name = localAccessor.name {
                guard let next = try matchMember(name, localAccessor, in: spec, typeID: targetID, into: &target, matcher) else {
                    return nil
                }
                targetID = next
                continue
            }
            if position > 0 {
                guard case .array(let array) = current else { return nil }
                let flexible = try isFlexibleArray(spec, target.accessors.last, array)
                guard flexible || localAccessor.index < array.count else { return nil }
                targetID = try spec.underlyingTypeID(of: array.elementType)
            }
            guard target.raw.count < COREAccessSpec.maximumLength else {
                throw COREFailure(.invalidAccessString("the target access is longer than \(COREAccessSpec.maximumLength) steps"))
            }
            target.accessors.append(COREAccessor(typeID: targetID, index: localAccessor.index, name: nil))
            target.raw.append(localAccessor.index)
            let size = try spec.coreSize(of: targetID)
            target.bitOffset = try checkedAdd(
                target.bitOffset, try checkedMultiply(UInt64(localAccessor.index), try checkedMultiply(size, 8)))
        }
        return target
    }

    /// Finds the member called `name` in the composite `typeID`, descending into anonymous
    /// members, and checks that its type is compatible with the local member's. Returns the
    /// member's type id, or nil (libbpf's `bpf_core_match_member`).
    private func matchMember(
        _ name: String, _ localAccessor: COREAccessor, in spec: BTFSpec, typeID: BTFTypeID,
        into target: inout COREAccessSpec, _ matcher: COREMatcher
    ) throws -> BTFTypeID? {
        let (compositeID, type) = try spec.coreSkipModifiers(typeID)
        guard let composite = type.composite else { return nil }
        guard let localComposite = try localSpec.type(localAccessor.typeID).composite,
            localAccessor.index < localComposite.members.count
        else { return nil }
        let localMember = localComposite.members[localAccessor.index]
        for (index, member) in composite.members.enumerated() {
            guard target.raw.count < COREAccessSpec.maximumLength else {
                throw COREFailure(.invalidAccessString("the target access is longer than \(COREAccessSpec.maximumLength) steps"))
            }
            let savedOffset = target.bitOffset
            target.bitOffset = try checkedAdd(target.bitOffset, UInt64(member.bitOffset))
            target.raw.append(index)
            if member.name.isEmpty {
                if let found = try matchMember(name, localAccessor, in: spec, typeID: member.type, into: &target, matcher) {
                    return found
                }
            } else if member.name == name {
                guard try matcher.fieldsAreCompatible(localMember.type, member.type) else { return nil }
                target.accessors.append(COREAccessor(typeID: compositeID, index: index, name: member.name))
                return member.type
            }
            target.bitOffset = savedOffset
            target.raw.removeLast()
        }
        return nil
    }

    // MARK: - Writing the access as C

    /// The relocation's access written as C: `struct task_struct::real_parent`,
    /// `struct sample::inner.a[3]`, `enum pid_type::PIDTYPE_TGID`, or the type alone.
    func renderAccess(_ relocation: BTFCoreRelocation) throws -> String {
        let root = try describeType(relocation.type, in: localSpec)
        if relocation.kind.isTypeBased { return root }
        let access = try parseLocalAccess(relocation)
        if relocation.kind.isEnumValueBased {
            return root + "::" + (access.accessors.first?.name ?? "?")
        }
        var text = root
        if let first = access.accessors.first, first.index != 0 { text += "[\(first.index)]" }
        var path = ""
        for accessor in access.accessors.dropFirst() {
            if let name = accessor.name {
                path += path.isEmpty ? name : "." + name
            } else {
                path += "[\(accessor.index)]"
            }
        }
        return path.isEmpty ? text : text + "::" + path
    }
}

/// A type written the way C names it: `struct task_struct`, `enum pid_type`, `u32`.
func describeType(_ id: BTFTypeID, in spec: BTFSpec) throws -> String {
    let type = try spec.type(id)
    let name = type.name.isEmpty ? "<anon>" : type.name
    switch type {
    case .struct: return "struct " + name
    case .union: return "union " + name
    case .enum, .enum64: return "enum " + name
    case .forward(let t): return (t.isUnion ? "union " : "struct ") + name
    case .typedef: return "typedef " + name
    case .void: return "void"
    default: return type.name.isEmpty ? "\(type.kind) [\(id)]" : name
    }
}

/// The name without a flavour suffix: `task_struct___v1` -> `task_struct`. The suffix starts at
/// the last `___` that has a character other than `_` on each side, as libbpf defines it.
func essentialName(_ name: String) -> Substring {
    let bytes = Array(name.utf8)
    let count = bytes.count
    var start = count - 5
    while start >= 0 {
        if bytes[start] != 0x5F, bytes[start + 1] == 0x5F, bytes[start + 2] == 0x5F, bytes[start + 3] == 0x5F,
            bytes[start + 4] != 0x5F
        {
            return Substring(String(decoding: bytes[0...start], as: UTF8.self))
        }
        start -= 1
    }
    return Substring(name)
}
