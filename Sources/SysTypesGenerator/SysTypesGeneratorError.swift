import EBPFBTF

/// Why the generator could not write the types from a BTF blob. Each case names the C type or
/// member at fault, so a kernel that changed `union bpf_attr` shows where the tables need updating.
public enum SysTypesGeneratorError: Error, Equatable, CustomStringConvertible {
    /// The BTF itself could not be decoded.
    case btf(BTFError)
    /// The BTF has no type of this name and kind.
    case missingType(name: String, kind: String)
    /// A member the tables name is not in the type (`path` is the selector that failed).
    case missingMember(type: String, path: String)
    /// A `@field` selector matches more than one anonymous member.
    case ambiguousMember(type: String, selector: String)
    /// A member whose type the generator cannot mirror in Swift.
    case unsupportedMember(type: String, member: String, reason: String)
    /// Two fields of a generated struct claim the same bytes.
    case overlappingFields(structName: String, first: String, second: String, offset: Int)
    /// Two members would get the same Swift name; add a rename to the table.
    case nameCollision(structName: String, name: String, member: String)
    /// A type alias stands for a union member that no longer has the same layout as its target.
    case aliasMismatch(alias: String, target: String)
    /// An enum the tables name has no values.
    case emptyEnum(name: String)

    public var description: String {
        switch self {
        case .btf(let error):
            "BTF: \(error)"
        case .missingType(let name, let kind):
            "the BTF has no \(kind) named \(name)"
        case .missingMember(let type, let path):
            "\(type) has no member \(path)"
        case .ambiguousMember(let type, let selector):
            "\(type): more than one anonymous member matches \(selector)"
        case .unsupportedMember(let type, let member, let reason):
            "\(type).\(member): \(reason)"
        case .overlappingFields(let structName, let first, let second, let offset):
            "\(structName): \(first) and \(second) overlap at byte \(offset)"
        case .nameCollision(let structName, let name, let member):
            "\(structName): \(member) would be named \(name), which is taken"
        case .aliasMismatch(let alias, let target):
            "\(alias) no longer has the layout of \(target)"
        case .emptyEnum(let name):
            "enum \(name) has no values"
        }
    }
}
