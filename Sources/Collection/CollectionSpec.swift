import EBPFASM

/// Everything an object file describes: its programs, maps and global variables, as plain values.
///
/// Parsing is deterministic and needs no privileges: the same object gives an equal spec on any
/// machine. Everything that depends on the running kernel happens when the collection is loaded.
public struct CollectionSpec: Sendable, Hashable {
    /// Programs by name (entry points only; subprograms are folded into the programs that call them).
    public var programs: [String: ProgramSpec]
    /// Maps by name, including the maps of data sections (`.data`, `.rodata`, `.bss`, `.kconfig`).
    public var maps: [String: MapSpec]
    /// Global variables by name.
    public var variables: [String: VariableSpec]
    /// The byte order the object was compiled for.
    public var byteOrder: ByteOrder

    public init(
        programs: [String: ProgramSpec] = [:], maps: [String: MapSpec] = [:],
        variables: [String: VariableSpec] = [:], byteOrder: ByteOrder = .host
    ) {
        self.programs = programs
        self.maps = maps
        self.variables = variables
        self.byteOrder = byteOrder
    }
}

/// A global variable in one of an object's data sections.
public struct VariableSpec: Sendable, Hashable {
    public var name: String
    /// The data-section map that holds the variable (`.data`, `.rodata`, `.bss`, `.data.foo`).
    public var mapName: String
    /// Byte offset of the variable within that map's value.
    public var offset: UInt32
    public var size: UInt32
    /// Whether programs see the variable as constant (`.rodata` and other frozen sections).
    public var isReadOnly: Bool

    public init(name: String, mapName: String, offset: UInt32, size: UInt32, isReadOnly: Bool) {
        self.name = name
        self.mapName = mapName
        self.offset = offset
        self.size = size
        self.isReadOnly = isReadOnly
    }
}
