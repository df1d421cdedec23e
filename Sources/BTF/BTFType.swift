/// One decoded BTF type. Types refer to each other by `BTFTypeID`, so a value is self-contained,
/// cheap to compare, and cycles through pointers cannot make it infinite; follow a reference with
/// `BTFSpec.type(_:)` or through a `BTFTypeGraph`.
///
/// Names are empty for anonymous types.
public enum BTFType: Hashable, Sendable {
    /// Type 0.
    case void
    case int(BTFInt)
    case pointer(BTFPointer)
    case array(BTFArray)
    case `struct`(BTFComposite)
    case union(BTFComposite)
    /// An enum with 32-bit values (`BTF_KIND_ENUM`).
    case `enum`(BTFEnum)
    /// An enum with 64-bit values (`BTF_KIND_ENUM64`).
    case enum64(BTFEnum)
    case forward(BTFForward)
    case typedef(BTFTypedef)
    case volatile(BTFQualifier)
    case const(BTFQualifier)
    case restrict(BTFQualifier)
    case typeTag(BTFTypeTag)
    case function(BTFFunction)
    case functionPrototype(BTFFunctionPrototype)
    case variable(BTFVariable)
    case dataSection(BTFDataSection)
    case float(BTFFloat)
    case declarationTag(BTFDeclarationTag)

    /// The wire kind of this type.
    public var kind: BTFKind {
        switch self {
        case .void: .void
        case .int: .int
        case .pointer: .pointer
        case .array: .array
        case .struct: .struct
        case .union: .union
        case .enum: .enum
        case .enum64: .enum64
        case .forward: .forward
        case .typedef: .typedef
        case .volatile: .volatile
        case .const: .const
        case .restrict: .restrict
        case .typeTag: .typeTag
        case .function: .function
        case .functionPrototype: .functionPrototype
        case .variable: .variable
        case .dataSection: .dataSection
        case .float: .float
        case .declarationTag: .declarationTag
        }
    }

    /// The type's name; empty for kinds without a name and for anonymous types.
    public var name: String {
        switch self {
        case .void, .pointer, .array, .volatile, .const, .restrict, .functionPrototype: ""
        case .int(let t): t.name
        case .struct(let t), .union(let t): t.name
        case .enum(let t), .enum64(let t): t.name
        case .forward(let t): t.name
        case .typedef(let t): t.name
        case .typeTag(let t): t.name
        case .function(let t): t.name
        case .variable(let t): t.name
        case .dataSection(let t): t.name
        case .float(let t): t.name
        case .declarationTag(let t): t.name
        }
    }

    /// The number of the type references this type holds, in the order `reference(at:)` gives them.
    public var referenceCount: Int {
        switch self {
        case .void, .int, .enum, .enum64, .forward, .float: 0
        case .pointer, .typedef, .volatile, .const, .restrict, .typeTag, .function, .variable, .declarationTag: 1
        case .array: 2
        case .struct(let t), .union(let t): t.members.count
        case .functionPrototype(let t): 1 + t.parameters.count
        case .dataSection(let t): t.variables.count
        }
    }

    /// The `index`th type this type refers to (element then index type for arrays, the return type
    /// then parameters for prototypes). Nil when `index` is out of range.
    public func reference(at index: Int) -> BTFTypeID? {
        guard index >= 0, index < referenceCount else { return nil }
        switch self {
        case .void, .int, .enum, .enum64, .forward, .float: return nil
        case .pointer(let t): return t.target
        case .typedef(let t): return t.type
        case .volatile(let t), .const(let t), .restrict(let t): return t.type
        case .typeTag(let t): return t.type
        case .function(let t): return t.prototype
        case .variable(let t): return t.type
        case .declarationTag(let t): return t.type
        case .array(let t): return index == 0 ? t.elementType : t.indexType
        case .struct(let t), .union(let t): return t.members[index].type
        case .functionPrototype(let t): return index == 0 ? t.returnType : t.parameters[index - 1].type
        case .dataSection(let t): return t.variables[index].type
        }
    }
}

/// `BTF_KIND_INT`: an integer of `size` bytes whose value occupies `bits` bits starting at bit
/// `offset`.
public struct BTFInt: Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public var encoding: BTFIntEncoding
    public var offset: UInt8
    public var bits: UInt8
    public init(name: String, size: UInt32, encoding: BTFIntEncoding, offset: UInt8 = 0, bits: UInt8) {
        self.name = name
        self.size = size
        self.encoding = encoding
        self.offset = offset
        self.bits = bits
    }
}

/// `BTF_KIND_PTR`.
public struct BTFPointer: Hashable, Sendable {
    public var target: BTFTypeID
    public init(target: BTFTypeID) { self.target = target }
}

/// `BTF_KIND_ARRAY` (`struct btf_array`).
public struct BTFArray: Hashable, Sendable {
    public var elementType: BTFTypeID
    public var indexType: BTFTypeID
    public var count: UInt32
    public init(elementType: BTFTypeID, indexType: BTFTypeID, count: UInt32) {
        self.elementType = elementType
        self.indexType = indexType
        self.count = count
    }
}

/// `BTF_KIND_STRUCT` or `BTF_KIND_UNION`.
public struct BTFComposite: Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public var members: [BTFMember]
    public init(name: String, size: UInt32, members: [BTFMember]) {
        self.name = name
        self.size = size
        self.members = members
    }
}

/// A member of a struct or union (`struct btf_member`).
///
/// With the composite's kind_flag set the wire offset holds the bitfield size in its top 8 bits;
/// without it bitfields are described by the member's int type and `bitfieldSize` is 0.
public struct BTFMember: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public var bitOffset: UInt32
    public var bitfieldSize: UInt8
    public init(name: String, type: BTFTypeID, bitOffset: UInt32, bitfieldSize: UInt8 = 0) {
        self.name = name
        self.type = type
        self.bitOffset = bitOffset
        self.bitfieldSize = bitfieldSize
    }
}

/// `BTF_KIND_ENUM` or `BTF_KIND_ENUM64`. The kind_flag says whether the values are signed.
public struct BTFEnum: Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public var isSigned: Bool
    public var values: [BTFEnumValue]
    public init(name: String, size: UInt32, isSigned: Bool, values: [BTFEnumValue]) {
        self.name = name
        self.size = size
        self.isSigned = isSigned
        self.values = values
    }
}

/// An enumerator. `value` is the 64-bit pattern: a signed 32-bit value is sign-extended.
public struct BTFEnumValue: Hashable, Sendable {
    public var name: String
    public var value: UInt64
    public init(name: String, value: UInt64) {
        self.name = name
        self.value = value
    }
    /// The value read as a signed number.
    public var signedValue: Int64 { Int64(bitPattern: value) }
}

/// `BTF_KIND_FWD`: kind_flag set means a union.
public struct BTFForward: Hashable, Sendable {
    public var name: String
    public var isUnion: Bool
    public init(name: String, isUnion: Bool) {
        self.name = name
        self.isUnion = isUnion
    }
}

/// `BTF_KIND_TYPEDEF`.
public struct BTFTypedef: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public init(name: String, type: BTFTypeID) {
        self.name = name
        self.type = type
    }
}

/// `BTF_KIND_VOLATILE`, `BTF_KIND_CONST` or `BTF_KIND_RESTRICT`.
public struct BTFQualifier: Hashable, Sendable {
    public var type: BTFTypeID
    public init(type: BTFTypeID) { self.type = type }
}

/// `BTF_KIND_TYPE_TAG`. kind_flag set means the tag is an attribute (`btf_type_tag` written as
/// `__attribute__((...))` text rather than a tag).
public struct BTFTypeTag: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public var isAttribute: Bool
    public init(name: String, type: BTFTypeID, isAttribute: Bool = false) {
        self.name = name
        self.type = type
        self.isAttribute = isAttribute
    }
}

/// `BTF_KIND_FUNC`: a function with its prototype; the linkage is stored in vlen.
public struct BTFFunction: Hashable, Sendable {
    public var name: String
    public var prototype: BTFTypeID
    public var linkage: BTFLinkage
    public init(name: String, prototype: BTFTypeID, linkage: BTFLinkage) {
        self.name = name
        self.prototype = prototype
        self.linkage = linkage
    }
}

/// `BTF_KIND_FUNC_PROTO`. A last parameter with no name and type 0 marks a variadic function.
public struct BTFFunctionPrototype: Hashable, Sendable {
    public var returnType: BTFTypeID
    public var parameters: [BTFParameter]
    public init(returnType: BTFTypeID, parameters: [BTFParameter]) {
        self.returnType = returnType
        self.parameters = parameters
    }
    /// Whether the prototype ends in `...`.
    public var isVariadic: Bool {
        guard let last = parameters.last else { return false }
        return last.type == .void && last.name.isEmpty
    }
}

/// A parameter of a function prototype (`struct btf_param`).
public struct BTFParameter: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public init(name: String, type: BTFTypeID) {
        self.name = name
        self.type = type
    }
}

/// `BTF_KIND_VAR`.
public struct BTFVariable: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public var linkage: BTFLinkage
    public init(name: String, type: BTFTypeID, linkage: BTFLinkage) {
        self.name = name
        self.type = type
        self.linkage = linkage
    }
}

/// `BTF_KIND_DATASEC`.
public struct BTFDataSection: Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public var variables: [BTFVariableSectionInfo]
    public init(name: String, size: UInt32, variables: [BTFVariableSectionInfo]) {
        self.name = name
        self.size = size
        self.variables = variables
    }
}

/// Where a variable lives in a data section (`struct btf_var_secinfo`).
public struct BTFVariableSectionInfo: Hashable, Sendable {
    public var type: BTFTypeID
    public var offset: UInt32
    public var size: UInt32
    public init(type: BTFTypeID, offset: UInt32, size: UInt32) {
        self.type = type
        self.offset = offset
        self.size = size
    }
}

/// `BTF_KIND_FLOAT`.
public struct BTFFloat: Hashable, Sendable {
    public var name: String
    public var size: UInt32
    public init(name: String, size: UInt32) {
        self.name = name
        self.size = size
    }
}

/// `BTF_KIND_DECL_TAG`: a tag on a type, on one member or parameter of it (`componentIndex`), or on
/// the whole (`componentIndex == -1`). kind_flag set means an attribute.
public struct BTFDeclarationTag: Hashable, Sendable {
    public var name: String
    public var type: BTFTypeID
    public var componentIndex: Int32
    public var isAttribute: Bool
    public init(name: String, type: BTFTypeID, componentIndex: Int32, isAttribute: Bool = false) {
        self.name = name
        self.type = type
        self.componentIndex = componentIndex
        self.isAttribute = isAttribute
    }
}
