import EBPFBTF

/// A stored field of a generated struct, at the byte offset the C layout gives it.
struct LayoutField: Equatable, Sendable {
    var name: String
    var type: String
    var initialValue: String
    var offset: Int
    var size: Int
    var alignment: Int
    /// The C field (dotted path from the struct), empty for padding.
    var cPath: String
    var isBitfieldUnit = false
    /// A doc comment for fields that are not one C field (bit field units, opaque unions).
    var doc: String?

    var end: Int { offset + size }
}

/// A computed property over bytes that a stored field also covers: another member of a union.
struct LayoutAccessor: Equatable, Sendable {
    var name: String
    var type: String
    var offset: Int
    var size: Int
    var cPath: String
}

/// The Swift layout of one recipe: fields in offset order with explicit padding, and the accessors
/// for union members that share storage with them.
struct StructLayout: Sendable {
    var fields: [LayoutField]
    var accessors: [LayoutAccessor]
    var size: Int

    /// The stored field whose bytes hold `offset`.
    func field(covering offset: Int) -> LayoutField? {
        fields.first { $0.offset <= offset && offset < $0.end }
    }
}

/// Lays out recipes against one BTF spec.
struct StructLayoutBuilder {
    let spec: BTFSpec

    func layout(_ recipe: StructRecipe) throws(SysTypesGeneratorError) -> StructLayout {
        let root = try rootComposite(of: recipe)
        var walk = Walk(recipe: recipe, builder: self)
        try walk.visit(composite: root.composite, isUnion: root.isUnion, base: 0, path: [], mode: .stored)
        var fields = walk.fields.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(fields, fields.dropFirst()) where previous.end > next.offset {
            throw .overlappingFields(
                structName: recipe.swiftName, first: previous.cPath, second: next.cPath, offset: next.offset)
        }
        let end = fields.last?.end ?? 0
        let retainedAlignment = fields.map(\.alignment).max() ?? 1
        let size: Int
        let paddingUnit: Int
        if recipe.trimToFields || recipe.lastField != nil {
            size = roundUp(end, to: retainedAlignment)
            paddingUnit = retainedAlignment
        } else {
            size = Int(root.composite.size)
            paddingUnit = try naturalAlignment(ofComposite: root.composite)
        }
        guard end <= size else {
            throw .unsupportedMember(
                type: recipe.swiftName, member: fields.last?.cPath ?? "", reason: "ends past the struct's size")
        }
        fields = withPadding(fields, size: size, unit: paddingUnit)
        return StructLayout(fields: fields, accessors: walk.accessors, size: size)
    }

    // MARK: - Finding the composite

    private struct Root {
        var composite: BTFComposite
        var isUnion: Bool
    }

    private func rootComposite(of recipe: StructRecipe) throws(SysTypesGeneratorError) -> Root {
        let id: BTFTypeID
        if let structID = spec.typeID(named: recipe.source, kind: .struct) {
            id = structID
        } else if let unionID = spec.typeID(named: recipe.source, kind: .union) {
            id = unionID
        } else {
            throw .missingType(name: recipe.source, kind: "struct or union")
        }
        var current = try composite(id, context: recipe.source)
        for step in recipe.path {
            let memberType = try findMember(step, in: current.composite, context: recipe.source)
            current = try composite(memberType, context: "\(recipe.source) \(step)")
        }
        return current
    }

    private func composite(_ id: BTFTypeID, context: String) throws(SysTypesGeneratorError) -> Root {
        switch try resolved(id) {
        case .struct(let composite): return Root(composite: composite, isUnion: false)
        case .union(let composite): return Root(composite: composite, isUnion: true)
        default: throw .unsupportedMember(type: context, member: "", reason: "is not a struct or union")
        }
    }

    /// The type of the member `step` names: a member of that name (looked for through anonymous
    /// members too), or for `@field` the anonymous member whose first field is `field`.
    private func findMember(
        _ step: String, in composite: BTFComposite, context: String
    ) throws(SysTypesGeneratorError) -> BTFTypeID {
        if step.hasPrefix("@") {
            let field = String(step.dropFirst())
            var matches: [BTFTypeID] = []
            for member in composite.members where member.name.isEmpty {
                if try firstFieldName(of: member) == field { matches.append(member.type) }
            }
            guard matches.count <= 1 else { throw .ambiguousMember(type: context, selector: step) }
            guard let match = matches.first else { throw .missingMember(type: context, path: step) }
            return match
        }
        if let found = try namedMember(step, in: composite) { return found }
        throw .missingMember(type: context, path: step)
    }

    private func namedMember(_ name: String, in composite: BTFComposite) throws(SysTypesGeneratorError) -> BTFTypeID? {
        for member in composite.members {
            if member.name == name { return member.type }
            if member.name.isEmpty, case .some(let inner) = try? compositeOf(member.type),
                let found = try namedMember(name, in: inner)
            {
                return found
            }
        }
        return nil
    }

    private func compositeOf(_ id: BTFTypeID) throws(SysTypesGeneratorError) -> BTFComposite? {
        switch try resolved(id) {
        case .struct(let composite), .union(let composite): composite
        default: nil
        }
    }

    /// The member's own name, or for an anonymous composite the name of its first field.
    func firstFieldName(of member: BTFMember) throws(SysTypesGeneratorError) -> String {
        if !member.name.isEmpty { return member.name }
        guard let inner = try compositeOf(member.type), let first = inner.members.first else { return "" }
        return try firstFieldName(of: first)
    }

    // MARK: - Types

    func resolved(_ id: BTFTypeID) throws(SysTypesGeneratorError) -> BTFType {
        do {
            return try spec.type(spec.underlyingTypeID(of: id))
        } catch {
            throw .btf(error)
        }
    }

    func naturalAlignment(of id: BTFTypeID) throws(SysTypesGeneratorError) -> Int {
        switch try resolved(id) {
        case .int(let int): return max(1, min(Int(int.size), 8))
        case .enum(let e), .enum64(let e): return max(1, min(Int(e.size), 8))
        case .pointer: return 8
        case .array(let array): return try naturalAlignment(of: array.elementType)
        case .struct(let composite), .union(let composite): return try naturalAlignment(ofComposite: composite)
        default: return 1
        }
    }

    func naturalAlignment(ofComposite composite: BTFComposite) throws(SysTypesGeneratorError) -> Int {
        var alignment = 1
        for member in composite.members {
            alignment = max(alignment, try naturalAlignment(of: member.type))
        }
        return alignment
    }

    // MARK: - Padding

    /// `fields` with padding fields named `padding0`, `padding1`, … in every gap and up to `size`.
    private func withPadding(_ fields: [LayoutField], size: Int, unit: Int) -> [LayoutField] {
        var result: [LayoutField] = []
        var position = 0
        var paddingIndex = 0
        func pad(to end: Int) {
            for piece in paddingPieces(from: position, to: end, unit: unit) {
                result.append(
                    LayoutField(
                        name: "padding\(paddingIndex)", type: piece.type, initialValue: piece.initialValue,
                        offset: piece.offset, size: piece.size, alignment: piece.alignment, cPath: ""))
                paddingIndex += 1
            }
            position = end
        }
        for field in fields {
            pad(to: field.offset)
            result.append(field)
            position = field.end
        }
        pad(to: size)
        return result
    }
}

/// One run of padding bytes as a Swift type: an integer, or a tuple of integers.
struct PaddingPiece {
    var offset: Int
    var size: Int
    var alignment: Int
    var type: String
    var initialValue: String
}

/// Fills `start..<end` with the widest integers the offsets allow, no wider than `unit`: a smaller
/// integer up to the next `unit` boundary, then one run of `unit`-sized integers, then the rest.
func paddingPieces(from start: Int, to end: Int, unit: Int) -> [PaddingPiece] {
    var pieces: [PaddingPiece] = []
    var position = start
    while position < end {
        let width = [8, 4, 2, 1].first { $0 <= unit && position % $0 == 0 && position + $0 <= end } ?? 1
        let count = width == min(unit, 8) ? (end - position) / width : 1
        pieces.append(integerRun(offset: position, width: width, count: count))
        position += width * count
    }
    return pieces
}

/// `count` unsigned integers of `width` bytes as one Swift type.
func integerRun(offset: Int, width: Int, count: Int) -> PaddingPiece {
    let scalar = "UInt\(width * 8)"
    let type = count == 1 ? scalar : "(" + Array(repeating: scalar, count: count).joined(separator: ", ") + ")"
    let initial = count == 1 ? "0" : "(" + Array(repeating: "0", count: count).joined(separator: ", ") + ")"
    return PaddingPiece(offset: offset, size: width * count, alignment: width, type: type, initialValue: initial)
}

func roundUp(_ value: Int, to alignment: Int) -> Int {
    guard alignment > 1 else { return value }
    return (value + alignment - 1) / alignment * alignment
}
