import Glibc
import Synchronization

// Candidate search and the values each relocation kind computes.

extension CORERelocator {
    // MARK: - Candidates

    /// The target types whose essential name equals the local type's and whose kind is
    /// compatible, searched in the first target, or if it has none, in the own types of the others.
    /// Looks names up through each spec's name index, decoding only the candidates.
    func candidates(for localID: BTFTypeID) throws -> [CORECandidate] {
        if let cached = candidateCache[localID] { return cached }
        let localType = try localSpec.type(localID)
        let essential = String(essentialName(localType.name))
        guard !essential.isEmpty else { return [] }
        var found: [CORECandidate] = []
        for (targetIndex, spec) in targets.enumerated() {
            if targetIndex > 0, !found.isEmpty { break }
            let ownOnly = targetIndex > 0
            var ids = spec.typeIDs(named: essential)
            ids += flavouredTypeIDs(essential, targetIndex: targetIndex)
            for id in ids.sorted() where !ownOnly || id >= spec.firstTypeID {
                let type = try spec.type(id)
                guard COREMatcher.kindsAreCompatible(type, localType) else { continue }
                found.append(CORECandidate(targetIndex: targetIndex, typeID: id, name: try describeType(id, in: spec)))
            }
        }
        candidateCache[localID] = found
        return found
    }

    /// Target types named `essential___flavour`. Kernel BTF has almost none, so each spec's
    /// names are scanned once, in place, for the flavour separator; the result is kept for as
    /// long as the spec lives, for every relocator.
    private func flavouredTypeIDs(_ essential: String, targetIndex: Int) -> [BTFTypeID] {
        if let index = flavouredNames[targetIndex] { return index[essential] ?? [] }
        let index = FlavouredNameIndex.shared.index(of: targets[targetIndex])
        flavouredNames[targetIndex] = index
        return index[essential] ?? []
    }

    // MARK: - Computing a fixup

    func computeFixup(_ relocation: BTFCoreRelocation) throws -> COREFixup {
        guard relocation.kind.rawValue <= 12 else { throw COREFailure(.unsupportedKind(relocation.kind)) }
        let local = try parseLocalAccess(relocation)
        if relocation.kind == .typeIDLocal {
            let id = UInt64(relocation.type.rawValue)
            return COREFixup(kind: relocation.kind, localValue: id, targetValue: id, validatesLocalValue: false)
        }
        guard !(try localSpec.type(relocation.type).name.isEmpty) else { throw COREFailure(.anonymousLocalType) }
        let candidates = try candidates(for: relocation.type)
        var chosen: (fixup: COREFixup, bitOffset: UInt64)?
        var results: [COREErrorReason.CandidateResult] = []
        var matching: [CORECandidate] = []
        var ambiguous = false
        for candidate in candidates {
            let spec = targets[candidate.targetIndex]
            guard let target = try matchAccess(local, in: spec, typeID: candidate.typeID) else { continue }
            var fixup = try calculate(relocation, local: local, target: target)
            fixup.target = candidate
            results.append(
                .init(candidate: candidate, value: fixup.targetValue, isPoisoned: fixup.isPoisoned, bitOffset: target.bitOffset))
            matching.append(candidate)
            if let chosen {
                if chosen.bitOffset != target.bitOffset || chosen.fixup.isPoisoned != fixup.isPoisoned
                    || chosen.fixup.targetValue != fixup.targetValue
                {
                    ambiguous = true
                }
            } else {
                chosen = (fixup, target.bitOffset)
            }
        }
        if ambiguous { throw COREFailure(.ambiguous(results)) }
        if let chosen {
            candidateCache[relocation.type] = matching
            return chosen.fixup
        }
        return try calculate(relocation, local: local, target: nil)
    }

    /// The local and target values of one relocation for one candidate, or for none.
    func calculate(_ relocation: BTFCoreRelocation, local: COREAccessSpec, target: COREAccessSpec?) throws -> COREFixup {
        let kind = relocation.kind
        if kind.isFieldBased {
            let byteOrder = targets.first?.byteOrder ?? localSpec.byteOrder
            if kind == .fieldExists {
                return COREFixup(kind: kind, localValue: 1, targetValue: target == nil ? 0 : 1)
            }
            let localField = try fieldValue(kind, local, byteOrder: byteOrder)
            guard let target else {
                return COREFixup(
                    kind: kind, localValue: localField.value, targetValue: 0, isPoisoned: true,
                    validatesLocalValue: localField.validate)
            }
            let targetField = try fieldValue(kind, target, byteOrder: byteOrder)
            var fixup = COREFixup(
                kind: kind, localValue: localField.value, targetValue: targetField.value,
                validatesLocalValue: localField.validate, localAccessSize: localField.accessSize,
                targetAccessSize: targetField.accessSize)
            if localField.accessSize != targetField.accessSize {
                fixup.accessSizeCannotChange = try !accessSizeMayChange(
                    local: localField.accessTypeID, target: targetField.accessTypeID, in: target.spec)
            }
            return fixup
        }
        if kind.isTypeBased {
            let localValue = try typeValue(kind, local)
            let targetValue = try target.map { spec throws in try typeValue(kind, spec) } ?? 0
            return COREFixup(
                kind: kind, localValue: localValue, targetValue: targetValue, validatesLocalValue: kind != .typeIDTarget)
        }
        let localValue = try enumValue(kind, local)
        guard let target else {
            return COREFixup(kind: kind, localValue: localValue, targetValue: 0, isPoisoned: kind == .enumValueValue)
        }
        return COREFixup(kind: kind, localValue: localValue, targetValue: try enumValue(kind, target))
    }

    /// libbpf allows a load or store to change size only for pointers and for integers that are
    /// not signed in either spec: zero extension keeps their values.
    private func accessSizeMayChange(local: BTFTypeID, target: BTFTypeID, in targetSpec: BTFSpec) throws -> Bool {
        let localType = try localSpec.type(local)
        let targetType = try targetSpec.type(target)
        switch (localType, targetType) {
        case (.pointer, .pointer): return true
        case (.int(let a), .int(let b)): return a.encoding != .signed && b.encoding != .signed
        default: return false
        }
    }

    struct FieldValue {
        var value: UInt64
        var accessSize: UInt32 = 0
        var accessTypeID: BTFTypeID = .void
        var validate: Bool
    }

    /// The value a field relocation computes for one spec (libbpf's `bpf_core_calc_field_relo`).
    func fieldValue(_ kind: BTFCoreRelocationKind, _ access: COREAccessSpec, byteOrder: BTFByteOrder) throws -> FieldValue {
        let spec = access.spec
        guard let last = access.accessors.last else { throw COREFailure(.invalidAccessString("no steps")) }
        guard let name = last.name else {
            // An array element or the root itself.
            let size = try spec.coreSize(of: last.typeID)
            switch kind {
            case .fieldByteOffset:
                return FieldValue(
                    value: access.bitOffset / 8, accessSize: UInt32(truncatingIfNeeded: size), accessTypeID: last.typeID,
                    validate: true)
            case .fieldByteSize:
                return FieldValue(value: size, validate: true)
            default:
                throw COREFailure(.unsupportedKind(kind))
            }
        }
        _ = name
        guard let composite = try spec.type(last.typeID).composite, last.index < composite.members.count else {
            throw COREFailure(.invalidAccessString("member \(last.index) of type \(last.typeID)"))
        }
        let member = composite.members[last.index]
        let (fieldTypeID, fieldType) = try spec.coreSkipModifiers(member.type)
        let bitOffset = access.bitOffset
        var bitSize = UInt64(member.bitfieldSize)
        let isBitfield = bitSize > 0
        var byteSize: UInt64
        var byteOffset: UInt64
        if isBitfield {
            switch fieldType {
            case .int(let t): byteSize = UInt64(t.size)
            case .enum(let t), .enum64(let t): byteSize = UInt64(t.size)
            default: throw COREFailure(.invalidAccessString("bitfield \(member.name) is not an integer"))
            }
            guard byteSize > 0 else { throw COREFailure(.bitfieldTooWide) }
            byteOffset = bitOffset / 8 / byteSize * byteSize
            while try checkedAdd(bitOffset, bitSize) - byteOffset * 8 > byteSize * 8 {
                guard byteSize < 8 else { throw COREFailure(.bitfieldTooWide) }
                byteSize *= 2
                byteOffset = bitOffset / 8 / byteSize * byteSize
            }
        } else {
            byteSize = try spec.coreSize(of: fieldTypeID)
            byteOffset = bitOffset / 8
            bitSize = try checkedMultiply(byteSize, 8)
        }
        switch kind {
        case .fieldByteOffset:
            return FieldValue(
                value: byteOffset, accessSize: isBitfield ? 0 : UInt32(truncatingIfNeeded: byteSize),
                accessTypeID: isBitfield ? .void : fieldTypeID, validate: !isBitfield)
        case .fieldByteSize:
            return FieldValue(value: byteSize, validate: !isBitfield)
        case .fieldSigned:
            let signed: Bool
            switch fieldType {
            case .enum(let t), .enum64(let t): signed = t.isSigned
            case .int(let t): signed = t.encoding.contains(.signed)
            default: signed = false
            }
            return FieldValue(value: signed ? 1 : 0, validate: true)
        case .fieldLeftShiftU64:
            // Which bits of the loaded value hold the field depends on the kernel's byte order.
            let withinLoad = bitOffset - byteOffset * 8
            let value: UInt64
            switch byteOrder {
            case .littleEndian:
                let end = try checkedAdd(withinLoad, bitSize)
                guard end <= 64 else { throw COREFailure(.bitfieldTooWide) }
                value = 64 - end
            case .bigEndian:
                guard byteSize <= 8, withinLoad <= 64 else { throw COREFailure(.bitfieldTooWide) }
                value = (8 - byteSize) * 8 + withinLoad
            }
            return FieldValue(value: value, validate: !isBitfield)
        case .fieldRightShiftU64:
            guard bitSize <= 64 else { throw COREFailure(.bitfieldTooWide) }
            return FieldValue(value: 64 - bitSize, validate: true)
        default:
            throw COREFailure(.unsupportedKind(kind))
        }
    }

    /// The value a type relocation computes for a spec that has the type.
    private func typeValue(_ kind: BTFCoreRelocationKind, _ access: COREAccessSpec) throws -> UInt64 {
        switch kind {
        case .typeIDTarget: return UInt64(access.rootTypeID.rawValue)
        case .typeExists, .typeMatches: return 1
        case .typeSize: return try access.spec.coreSize(of: access.rootTypeID)
        default: throw COREFailure(.unsupportedKind(kind))
        }
    }

    /// The value an enumerator relocation computes for a spec that has the enumerator. A 32-bit
    /// enumerator is sign-extended as libbpf does, whatever the enum's signedness.
    private func enumValue(_ kind: BTFCoreRelocationKind, _ access: COREAccessSpec) throws -> UInt64 {
        if kind == .enumValueExists { return 1 }
        guard let accessor = access.accessors.first else { throw COREFailure(.invalidAccessString("no enumerator")) }
        let type = try access.spec.type(accessor.typeID)
        guard let enumeration = type.enumeration, accessor.index < enumeration.values.count else {
            throw COREFailure(.invalidAccessString("enumerator \(accessor.index) of type \(accessor.typeID)"))
        }
        let raw = enumeration.values[accessor.index].value
        if case .enum = type {
            return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: raw)))
        }
        return raw
    }
}

extension BTFSpec {
    /// Calls `body` with each own type's id and its name as a C string (nil for anonymous types),
    /// reading the records in place without decoding them.
    func forEachOwnTypeName(_ body: (BTFTypeID, UnsafePointer<CChar>?) -> Void) {
        for (index, offset) in offsets.enumerated() {
            let id = BTFTypeID(firstTypeID.rawValue &+ UInt32(truncatingIfNeeded: index))
            let nameOffset = word(at: typeSectionStart &+ Int(offset))
            guard nameOffset != 0, let pointer = cString(at: nameOffset), pointer.pointee != 0 else {
                body(id, nil)
                continue
            }
            body(id, pointer)
        }
    }
}

/// The flavoured type names of each spec, built on first use and dropped with the spec.
final class FlavouredNameIndex: Sendable {
    static let shared = FlavouredNameIndex()

    private struct Entry {
        weak var spec: BTFSpec?
        let names: [String: [BTFTypeID]]
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    func index(of spec: BTFSpec) -> [String: [BTFTypeID]] {
        let key = ObjectIdentifier(spec)
        let cached: [String: [BTFTypeID]]? = entries.withLock { entries in
            guard let entry = entries[key], entry.spec === spec else { return nil }
            return entry.names
        }
        if let cached { return cached }
        var names: [String: [BTFTypeID]] = [:]
        spec.forEachOwnTypeName { id, name in
            guard let pointer = name, strstr(pointer, "___") != nil else { return }
            let full = String(cString: pointer)
            let stripped = essentialName(full)
            guard stripped.utf8.count != full.utf8.count else { return }
            names[String(stripped), default: []].append(id)
        }
        entries.withLock { entries in
            entries = entries.filter { $0.value.spec != nil }
            entries[key] = Entry(spec: spec, names: names)
        }
        return names
    }
}
