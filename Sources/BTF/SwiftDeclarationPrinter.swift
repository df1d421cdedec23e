extension BTFSpec {
    /// Swift declarations for the types `ids` and every type they contain by value, each with the
    /// size, alignment and field offsets the type has in C on a 64-bit little-endian target.
    ///
    /// - Structs become structs whose stored properties sit at the C offsets; gaps are explicit
    ///   `_padN` byte tuples, and trailing padding is stored so `MemoryLayout.size` equals
    ///   `sizeof`.
    /// - Fixed-size arrays become homogeneous tuples (zero-length arrays are left out).
    /// - Unions, packed structs and members C places where Swift cannot (misaligned ones) live in
    ///   raw storage of the right size and alignment, read and written through computed
    ///   properties at their byte offsets.
    /// - Bitfields are computed properties over the bytes that hold them.
    /// - Enums become `RawRepresentable` structs with a static member per enumerator; typedefs
    ///   become typealiases; pointers become `UInt64` (BPF pointers are 64 bits wide).
    /// - Anonymous structs and unions get a name made from their container's and their member's.
    ///
    /// Every declared type is `BitwiseCopyable` and `Sendable` and has a zeroing `init()`.
    public func swiftDeclarations(of ids: [BTFTypeID]) throws(BTFError) -> String {
        let printer = try SwiftDeclarationPrinter(spec: self)
        for id in ids {
            guard id.rawValue < typeCount else { throw .noSuchType(id) }
            _ = try printer.swiftType(for: id)
        }
        return printer.output
    }

    /// Swift declarations of the named types (and what they contain), looked up by name: a
    /// struct, union, enum or typedef, in that order of preference.
    public func swiftDeclarations(named names: [String]) throws(BTFError) -> String {
        var ids: [BTFTypeID] = []
        for name in names {
            let kinds: [BTFKind] = [.struct, .union, .enum, .enum64, .typedef]
            guard let id = kinds.lazy.compactMap({ self.typeID(named: name, kind: $0) }).first else {
                throw .invalidType(id: .void, offset: 0, reason: "no struct, union, enum or typedef named \(name)")
            }
            ids.append(id)
        }
        return try swiftDeclarations(of: ids)
    }

    /// The name `swiftDeclarations(of:)` gives type `id` when it declares it, or the Swift type it
    /// maps `id` to (`UInt32`, `UInt64` for pointers, a tuple for arrays).
    public func swiftTypeName(of id: BTFTypeID) throws(BTFError) -> String {
        try SwiftDeclarationPrinter(spec: self).swiftType(for: id)
    }
}

/// Generates the Swift declarations of `BTFSpec.swiftDeclarations(of:)`.
final class SwiftDeclarationPrinter {
    let spec: BTFSpec
    let types: [BTFType]
    let layout: CDeclarationPrinter
    /// The Swift type each BTF type maps to, once generated.
    var mapped: [UInt32: String] = [:]
    var takenNames: Set<String> = []
    var output = ""
    var depth = 0
    /// Names of anonymous types, assigned by the container that holds them.
    var anonymousNames: [UInt32: String] = [:]

    /// Kinds that get a declaration of their own, and so a name even when anonymous in C.
    static let namedKinds: Set<BTFKind> = [.struct, .union, .enum, .enum64]

    init(spec: BTFSpec) throws(BTFError) {
        self.spec = spec
        types = try spec.typeGraph().types
        layout = try CDeclarationPrinter(spec: spec)
    }

    func type(_ id: BTFTypeID) throws(BTFError) -> BTFType {
        let index = Int(id.rawValue)
        guard index < types.count else { throw .noSuchType(id) }
        return types[index]
    }

    /// The C size of `id` in bytes.
    func size(of id: BTFTypeID) throws(BTFError) -> Int { try layout.byteSize(of: id) }

    /// The alignment C gives `id` on x86-64 and BPF: libbpf's estimate, except that 16-byte
    /// integers align to 16 as the compilers do.
    func alignment(of id: BTFTypeID) throws(BTFError) -> Int {
        let resolved = try spec.underlyingTypeID(of: id)
        switch try type(resolved) {
        case .int(let t) where t.size == 16: return 16
        case .array(let array): return try alignment(of: array.elementType)
        case .struct(let composite), .union(let composite):
            if try layout.alignment(of: resolved) == 1 { return 1 }
            var strictest = 1
            for member in composite.members { strictest = max(strictest, try alignment(of: member.type)) }
            return strictest
        default: return max(1, try layout.alignment(of: resolved))
        }
    }

    func swiftName(for cName: String, kind: String) -> String {
        var base = SwiftIdentifiers.sanitized(cName)
        if takenNames.contains(base) { base += "_" + kind }
        var candidate = base
        var counter = 2
        while takenNames.contains(candidate) {
            candidate = "\(base)\(counter)"
            counter += 1
        }
        takenNames.insert(candidate)
        return candidate
    }

    /// The Swift type for `id`, generating its declaration (and those of what it contains by
    /// value) on first use.
    func swiftType(for id: BTFTypeID) throws(BTFError) -> String {
        if let known = mapped[id.rawValue] { return known }
        depth += 1
        defer { depth -= 1 }
        guard depth <= CDeclarationPrinter.maximumNesting else {
            throw .invalidType(id: id, offset: spec.recordOffset(id) ?? 0, reason: "types nest too deeply")
        }
        let result: String
        switch try type(id) {
        case .void: result = "Void"
        case .int(let integer): result = Self.integerType(integer)
        case .float(let float):
            switch float.size {
            case 4: result = "Float"
            case 8: result = "Double"
            default:
                guard float.size <= 64 else { throw tooLarge(id) }
                result = Self.byteTuple(Int(float.size))
            }
        case .pointer: result = "UInt64"
        case .volatile(let t), .const(let t), .restrict(let t): result = try swiftType(for: t.type)
        case .typeTag(let t): result = try swiftType(for: t.type)
        case .array(let array):
            guard array.count <= Self.maximumTupleCount else { throw tooLarge(id) }
            let element = try swiftType(for: array.elementType)
            result = "(" + Array(repeating: element, count: Int(array.count)).joined(separator: ", ") + ")"
        case .typedef(let typedef):
            result = try declareTypedef(id, typedef)
        case .enum(let enumeration), .enum64(let enumeration):
            result = declareEnum(id, enumeration)
        case .struct(let composite):
            result = try declareComposite(id, composite, isUnion: false)
        case .union(let composite):
            result = try declareComposite(id, composite, isUnion: true)
        case .forward(let forward):
            throw .invalidType(
                id: id, offset: spec.recordOffset(id) ?? 0,
                reason: "\(forward.name) is only declared, so its layout is unknown")
        case .functionPrototype, .function, .variable, .dataSection, .declarationTag:
            throw .invalidType(id: id, offset: spec.recordOffset(id) ?? 0, reason: "has no value layout")
        }
        mapped[id.rawValue] = result
        return result
    }

    /// Tuples stand in for C arrays and padding; beyond this many elements the declaration would
    /// be unusable (and hostile BTF could ask for billions).
    static let maximumTupleCount: UInt32 = 1 << 16

    func tooLarge(_ id: BTFTypeID) -> BTFError {
        .invalidType(id: id, offset: spec.recordOffset(id) ?? 0, reason: "too large to declare in Swift")
    }

    static func integerType(_ integer: BTFInt) -> String {
        if integer.encoding.contains(.bool), integer.size == 1 { return "Bool" }
        let signed = integer.encoding.contains(.signed)
        switch integer.size {
        case 1: return signed ? "Int8" : "UInt8"
        case 2: return signed ? "Int16" : "UInt16"
        case 4: return signed ? "Int32" : "UInt32"
        case 8: return signed ? "Int64" : "UInt64"
        case 16: return signed ? "Int128" : "UInt128"
        default: return byteTuple(Int(min(integer.size, 16)))
        }
    }

    static func byteTuple(_ count: Int) -> String {
        count == 1 ? "(UInt8)" : "(" + Array(repeating: "UInt8", count: count).joined(separator: ", ") + ")"
    }

    private func declareTypedef(_ id: BTFTypeID, _ typedef: BTFTypedef) throws(BTFError) -> String {
        let target = try type(typedef.type)
        // A typedef of an anonymous struct, union or enum gives that type its name.
        if target.name.isEmpty, Self.namedKinds.contains(target.kind) {
            anonymousNames[typedef.type.rawValue] = typedef.name
            return try swiftType(for: typedef.type)
        }
        if case .functionPrototype = target {
            throw .invalidType(id: id, offset: spec.recordOffset(id) ?? 0, reason: "a function type has no value layout")
        }
        let aliased = try swiftType(for: typedef.type)
        let name = SwiftIdentifiers.sanitized(typedef.name)
        if name == aliased { return aliased }
        let swiftName = swiftName(for: typedef.name, kind: "typedef")
        output += "public typealias \(swiftName) = \(aliased)\n\n"
        return swiftName
    }

    private func declareEnum(_ id: BTFTypeID, _ enumeration: BTFEnum) -> String {
        let cName = enumeration.name.isEmpty ? (anonymousNames[id.rawValue] ?? "anonymous_enum_\(id)") : enumeration.name
        let name = swiftName(for: cName, kind: "enum")
        let raw: String
        switch (enumeration.size, enumeration.isSigned) {
        case (1, true): raw = "Int8"
        case (1, false): raw = "UInt8"
        case (2, true): raw = "Int16"
        case (2, false): raw = "UInt16"
        case (8, true): raw = "Int64"
        case (8, false): raw = "UInt64"
        case (_, true): raw = "Int32"
        default: raw = "UInt32"
        }
        var text = "/// `enum \(enumeration.name.isEmpty ? "(anonymous)" : enumeration.name)`.\n"
        text += "public struct \(name): RawRepresentable, Hashable, Sendable, BitwiseCopyable {\n"
        text += "    public var rawValue: \(raw)\n"
        text += "    public init(rawValue: \(raw)) { self.rawValue = rawValue }\n"
        text += "    public init() { self.rawValue = 0 }\n"
        var used: Set<String> = ["rawValue", "init"]
        for value in enumeration.values {
            var member = SwiftIdentifiers.sanitized(value.name)
            while used.contains(member) { member += "_" }
            used.insert(member)
            let literal: String
            switch raw {
            case "Int8", "Int16", "Int32", "Int64": literal = "\(value.signedValue)"
            case "UInt32": literal = "\(UInt32(truncatingIfNeeded: value.value))"
            case "UInt16": literal = "\(UInt16(truncatingIfNeeded: value.value))"
            case "UInt8": literal = "\(UInt8(truncatingIfNeeded: value.value))"
            default: literal = "\(value.value)"
            }
            text += "    public static let \(SwiftIdentifiers.escaped(member)) = \(name)(rawValue: \(literal))\n"
        }
        text += "}\n\n"
        output += text
        return name
    }
}

/// Making C names usable as Swift identifiers.
enum SwiftIdentifiers {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol", "consume", "copy", "borrowing", "consuming",
    ]

    /// `name` with characters Swift does not allow in identifiers replaced by `_`.
    static func sanitized(_ name: String) -> String {
        var result = ""
        for scalar in name.unicodeScalars {
            let allowed = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                || (scalar >= "0" && scalar <= "9") || scalar == "_"
            result.unicodeScalars.append(allowed ? scalar : "_")
        }
        if result.isEmpty { return "_" }
        if let first = result.unicodeScalars.first, first >= "0" && first <= "9" { result = "_" + result }
        return result
    }

    /// `name` in backticks when it is a keyword.
    static func escaped(_ name: String) -> String { keywords.contains(name) ? "`\(name)`" : name }
}
