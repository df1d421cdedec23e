import EBPFBTF

/// One Swift struct to write: which C composite it mirrors and how to name what is in it.
///
/// The kernel leaves most members of `union bpf_attr` anonymous, so a step of `path` is either a
/// member name (found through anonymous members too) or `@field`: the anonymous member whose first
/// field is `field`.
struct StructRecipe: Sendable {
    /// The Swift type to declare.
    var swiftName: String
    /// The named C struct or union the path starts from.
    var source: String
    /// Member steps from `source` to the composite the Swift struct mirrors; empty for `source` itself.
    var path: [String] = []
    /// The doc comment of the struct, one line per element.
    var doc: [String]
    var conformances = "BitwiseCopyable, Sendable"
    /// The union members to store where a union offers several (by name, or by first field for an
    /// anonymous member). A union with an explicit choice gets no accessors for its other members:
    /// those get structs of their own.
    var choices: [String] = []
    /// Unions kept as one opaque run of bytes, keyed by the name of one of their members; the value is
    /// the Swift field name.
    var opaqueUnions: [String: String] = [:]
    /// The C field (dotted path) after which the struct ends, for commands that read only a prefix.
    var lastField: String?
    /// Ends the struct after its last field (rounded up to its alignment) instead of at the size of
    /// the C composite, for a union member chosen out of a larger union.
    var trimToFields = false
    /// Swift names for C fields (dotted path) whose mechanical name would not read well.
    var renames: [String: String] = [:]
    /// Swift types for C fields (dotted path) that read better as another type of the same size.
    var typeOverrides: [String: String] = [:]
    /// Type aliases declared after the struct: the kernel shares one member between commands.
    var aliases: [Alias] = []

    struct Alias: Sendable {
        var name: String
        var doc: String
        /// For an alias of a struct made from another union member of the same shape: the member it
        /// stands for, checked to lay out the same.
        var sameShapeChoice: String?
    }
}

/// An enum of the kernel turned into a RawRepresentable struct with static members.
struct EnumRecipe: Sendable {
    var swiftName: String
    var cName: String
    var prefix: String
    var rawType: String
    var doc: [String]
    /// The property that names a value: `name` (with `description` returning it) or `description`.
    var nameProperty: String
    /// The text for a value without a name, with `\(rawValue)` interpolated.
    var unknownFormat: String
}

/// One per-command function of `Sys`, calling the choke point in the way its result requires.
struct CommandRecipe: Sendable {
    enum Shape: Sendable {
        /// Attributes in, nothing out.
        case input
        /// The kernel writes into the attributes.
        case updating
        /// The result is a new descriptor.
        case descriptor
        /// The result is a new descriptor; the attributes are any type conforming to the protocol.
        case genericDescriptor(protocol: String)
        /// The kernel writes into the attributes and returns a count.
        case updatingCount
    }

    var command: String
    var attributes: String
    var shape: Shape
    var doc: [String]
}
