/// A BTF type id: the index of a type in a spec, counting from 1; 0 is `void`.
///
/// In split BTF (kernel module BTF) the ids continue after the last id of the base spec.
public struct BTFTypeID: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { rawValue = value }
    /// The implicit type 0, `void`.
    public static let void = BTFTypeID(0)
    public static func < (lhs: BTFTypeID, rhs: BTFTypeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// The kind of a BTF type record, `BTF_INFO_KIND(info)`.
public struct BTFKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `BTF_KIND_UNKN`: only type 0, `void`, has it.
    public static let void = BTFKind(rawValue: 0)
    /// `BTF_KIND_INT`.
    public static let int = BTFKind(rawValue: 1)
    /// `BTF_KIND_PTR`.
    public static let pointer = BTFKind(rawValue: 2)
    /// `BTF_KIND_ARRAY`.
    public static let array = BTFKind(rawValue: 3)
    /// `BTF_KIND_STRUCT`.
    public static let `struct` = BTFKind(rawValue: 4)
    /// `BTF_KIND_UNION`.
    public static let union = BTFKind(rawValue: 5)
    /// `BTF_KIND_ENUM`: an enum with 32-bit values.
    public static let `enum` = BTFKind(rawValue: 6)
    /// `BTF_KIND_FWD`: a forward declaration of a struct or union.
    public static let forward = BTFKind(rawValue: 7)
    /// `BTF_KIND_TYPEDEF`.
    public static let typedef = BTFKind(rawValue: 8)
    /// `BTF_KIND_VOLATILE`.
    public static let volatile = BTFKind(rawValue: 9)
    /// `BTF_KIND_CONST`.
    public static let const = BTFKind(rawValue: 10)
    /// `BTF_KIND_RESTRICT`.
    public static let restrict = BTFKind(rawValue: 11)
    /// `BTF_KIND_FUNC`: a function; its type is a function prototype.
    public static let function = BTFKind(rawValue: 12)
    /// `BTF_KIND_FUNC_PROTO`.
    public static let functionPrototype = BTFKind(rawValue: 13)
    /// `BTF_KIND_VAR`: a global or static variable.
    public static let variable = BTFKind(rawValue: 14)
    /// `BTF_KIND_DATASEC`: an ELF data section and the variables in it.
    public static let dataSection = BTFKind(rawValue: 15)
    /// `BTF_KIND_FLOAT`.
    public static let float = BTFKind(rawValue: 16)
    /// `BTF_KIND_DECL_TAG`: `__attribute__((btf_decl_tag("...")))` on a declaration.
    public static let declarationTag = BTFKind(rawValue: 17)
    /// `BTF_KIND_TYPE_TAG`: `__attribute__((btf_type_tag("...")))` on a pointee type.
    public static let typeTag = BTFKind(rawValue: 18)
    /// `BTF_KIND_ENUM64`: an enum with 64-bit values.
    public static let enum64 = BTFKind(rawValue: 19)

    public var description: String {
        switch rawValue {
        case 0: "void"
        case 1: "int"
        case 2: "pointer"
        case 3: "array"
        case 4: "struct"
        case 5: "union"
        case 6: "enum"
        case 7: "forward"
        case 8: "typedef"
        case 9: "volatile"
        case 10: "const"
        case 11: "restrict"
        case 12: "function"
        case 13: "function prototype"
        case 14: "variable"
        case 15: "data section"
        case 16: "float"
        case 17: "declaration tag"
        case 18: "type tag"
        case 19: "enum64"
        default: "kind \(rawValue)"
        }
    }
}

/// The encoding bits of a BTF integer, `BTF_INT_ENCODING(...)`.
public struct BTFIntEncoding: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `BTF_INT_SIGNED`.
    public static let signed = BTFIntEncoding(rawValue: 1 << 0)
    /// `BTF_INT_CHAR`.
    public static let char = BTFIntEncoding(rawValue: 1 << 1)
    /// `BTF_INT_BOOL`.
    public static let bool = BTFIntEncoding(rawValue: 1 << 2)
}

/// The linkage of a function (in its vlen) or a variable (`struct btf_var.linkage`).
public struct BTFLinkage: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `BTF_FUNC_STATIC` / `BTF_VAR_STATIC`.
    public static let `static` = BTFLinkage(rawValue: 0)
    /// `BTF_FUNC_GLOBAL` / `BTF_VAR_GLOBAL_ALLOCATED`.
    public static let global = BTFLinkage(rawValue: 1)
    /// `BTF_FUNC_EXTERN` / `BTF_VAR_GLOBAL_EXTERN`.
    public static let `extern` = BTFLinkage(rawValue: 2)

    public var description: String {
        switch rawValue {
        case 0: "static"
        case 1: "global"
        case 2: "extern"
        default: "linkage \(rawValue)"
        }
    }
}
