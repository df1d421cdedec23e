/// Why types could not be written as BTF. Each case names the type (by the id it has or would
/// have in the output) and what does not fit the wire format.
public enum BTFMarshalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec being marshalled could not be decoded.
    case decoding(BTFError)
    /// More members, enumerators, parameters or variables than the 16-bit vlen holds.
    case tooManyComponents(id: BTFTypeID, kind: BTFKind, count: Int)
    /// An enumerator of a 32-bit enum whose value does not fit 32 bits (signed or unsigned, as the
    /// enum says).
    case enumValueOutOfRange(id: BTFTypeID, name: String, value: UInt64)
    /// A bitfield member (its composite then needs the kind_flag layout) at a bit offset that does
    /// not fit the 24 bits that layout leaves for it.
    case memberOffsetOutOfRange(id: BTFTypeID, member: String, bitOffset: UInt32)
    /// A function linkage that does not fit vlen, or an int encoding wider than its 4 bits.
    case fieldOutOfRange(id: BTFTypeID, field: String, value: UInt64)
    /// A declaration tag's component index below -1.
    case invalidComponentIndex(id: BTFTypeID, index: Int32)
    /// A name with a NUL byte in it: the string table could not hold it.
    case stringContainsNUL(id: BTFTypeID, string: String)
    /// A type refers to an id the output does not have.
    case typeIDOutOfRange(id: BTFTypeID, referenced: BTFTypeID, typeCount: UInt32)
    /// The type or string section, or the number of types, exceeds 32 bits.
    case tooLarge(section: String, size: UInt64)

    public var description: String {
        switch self {
        case .decoding(let error):
            "marshal BTF: \(error)"
        case .tooManyComponents(let id, let kind, let count):
            "marshal BTF type \(id) (\(kind)): \(count) components exceed the 65535 vlen allows"
        case .enumValueOutOfRange(let id, let name, let value):
            "marshal BTF type \(id): enumerator \(name) = \(value) does not fit a 32-bit enum"
        case .memberOffsetOutOfRange(let id, let member, let bitOffset):
            "marshal BTF type \(id): member \(member) at bit \(bitOffset) exceeds the 24 bits of a bitfield offset"
        case .fieldOutOfRange(let id, let field, let value):
            "marshal BTF type \(id): \(field) \(value) does not fit its field"
        case .invalidComponentIndex(let id, let index):
            "marshal BTF type \(id): declaration tag component index \(index) is below -1"
        case .stringContainsNUL(let id, let string):
            "marshal BTF type \(id): name \(string.debugDescription) contains a NUL byte"
        case .typeIDOutOfRange(let id, let referenced, let typeCount):
            "marshal BTF type \(id): refers to type \(referenced), but there are only \(typeCount) types"
        case .tooLarge(let section, let size):
            "marshal BTF: \(section) of \(size) exceeds 32 bits"
        }
    }
}
