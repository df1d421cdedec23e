import EBPFASM
import EBPFBTF

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
///
/// Two specs are equal when their programs, maps, variables and kernel symbols are equal and their
/// BTF describes the same types (whatever the byte order of the blobs).
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
    /// Kernel functions (kfuncs) and kernel variables the programs refer to by name (`__ksym`
    /// externs), resolved against the kernel's BTF at load time.
    public var kernelSymbols: [String: KernelSymbolSpec]
    /// The object's BTF (`.BTF`), which types map keys and values, variables and functions; nil
    /// when the object has none.
    public var types: BTFSpec?
    /// The byte order the object was compiled for.
    public var byteOrder: ByteOrder

    public init(
        programs: [String: ProgramSpec] = [:], subprograms: [String: ProgramSpec] = [:],
        maps: [String: MapSpec] = [:], variables: [String: VariableSpec] = [:],
        kernelSymbols: [String: KernelSymbolSpec] = [:], types: BTFSpec? = nil, byteOrder: ByteOrder = .host
    ) {
        self.programs = programs
        self.subprograms = subprograms
        self.maps = maps
        self.variables = variables
        self.kernelSymbols = kernelSymbols
        self.types = types
        self.byteOrder = byteOrder
    }

    public static func == (lhs: CollectionSpec, rhs: CollectionSpec) -> Bool {
        guard lhs.programs == rhs.programs, lhs.subprograms == rhs.subprograms, lhs.maps == rhs.maps,
            lhs.variables == rhs.variables, lhs.kernelSymbols == rhs.kernelSymbols, lhs.byteOrder == rhs.byteOrder
        else { return false }
        switch (lhs.types, rhs.types) {
        case (nil, nil): return true
        case (let left?, let right?):
            if left === right { return true }
            // Undecodable BTF never makes it into a spec, so a failure here means "not equal".
            guard let leftGraph = try? left.typeGraph(), let rightGraph = try? right.typeGraph() else { return false }
            return leftGraph == rightGraph
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(programs)
        hasher.combine(subprograms)
        hasher.combine(maps)
        hasher.combine(variables)
        hasher.combine(kernelSymbols)
        hasher.combine(byteOrder)
        hasher.combine(types?.typeCount)
    }
}

extension CollectionSpec {
    /// The ELF section clang puts globals of address space 1 in: libbpf's `__arena`
    /// (`__attribute__((address_space(1)))`). Its bytes are the arena map's
    /// ``MapSpec/arenaGlobals``; its variables' ``VariableSpec/mapName`` is the arena.
    public static let arenaGlobalsSection = ".addr_space.1"

    /// The one arena map holding `__arena` globals, when the object has any.
    public var arenaGlobalsMap: MapSpec? {
        maps.values.first { $0.arenaGlobals != nil }
    }
}

/// A kernel function or variable that programs refer to through an extern declared `__ksym`.
public struct KernelSymbolSpec: Sendable, Hashable {
    /// What the extern names.
    public enum Kind: Sendable, Hashable {
        /// A kfunc, called with `BPF_PSEUDO_KFUNC_CALL`.
        case function
        /// A kernel variable, loaded with `lddw` (`BPF_PSEUDO_BTF_ID` when typed; an address from
        /// kallsyms when declared `void`).
        case variable
    }

    public var name: String
    public var kind: Kind
    /// A weak extern (`__weak`) may be missing from the kernel; the loader then uses 0.
    public var isWeak: Bool
    /// The extern's type in the object's BTF (the `FUNC` or the variable's type); nil without BTF.
    public var typeID: BTFTypeID?

    public init(name: String, kind: Kind, isWeak: Bool, typeID: BTFTypeID? = nil) {
        self.name = name
        self.kind = kind
        self.isWeak = isWeak
        self.typeID = typeID
    }
}
