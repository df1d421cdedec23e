import EBPFASM

/// Everything an object file describes: its programs, maps and global variables, as plain values.
///
/// Parsing is deterministic and needs no privileges: the same object gives an equal spec on any
/// machine. Everything that depends on the running kernel happens when the collection is loaded.
///
/// Programs and subprograms are kept apart. ``programs`` holds the entry points only, each with the
/// instructions of its own function; every other function (those in `.text`, typically called
/// with bpf-to-bpf calls or passed to `bpf_loop`) is in ``subprograms``. Calls and function
/// addresses name their callee through ``Instruction/symbolReference``, so the linker appends
/// exactly the functions each program reaches, transitively, looking callees up in
/// ``subprograms`` first and then in ``programs`` (an entry program may also be called as a
/// function). This is what cilium/ebpf does at load time; libbpf appends at load time as well.
public struct CollectionSpec: Sendable, Hashable {
    /// Entry programs by name: functions in program sections.
    public var programs: [String: ProgramSpec]
    /// Functions that are not entry points, by name: the functions of `.text`. Their
    /// ``ProgramSpec/type`` is ``ProgramType/unspec``; the linker gives them the caller's.
    public var subprograms: [String: ProgramSpec]
    /// Maps by name, including the maps of data sections (`.data`, `.rodata`, `.bss`, `.kconfig`).
    public var maps: [String: MapSpec]
    /// Global variables by name. Read and change their values before loading with
    /// ``value(ofVariable:)`` and ``setVariable(_:to:)-(_,[UInt8])``.
    public var variables: [String: VariableSpec]
    /// The byte order the object was compiled for.
    public var byteOrder: ByteOrder

    public init(
        programs: [String: ProgramSpec] = [:], subprograms: [String: ProgramSpec] = [:],
        maps: [String: MapSpec] = [:], variables: [String: VariableSpec] = [:], byteOrder: ByteOrder = .host
    ) {
        self.programs = programs
        self.subprograms = subprograms
        self.maps = maps
        self.variables = variables
        self.byteOrder = byteOrder
    }
}
