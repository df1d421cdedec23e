import EBPFASM
import EBPFBTF

/// A program as an object file describes it, before it is loaded: plain data that tests can build,
/// compare and inspect without privileges.
///
/// The instructions still carry symbolic references (to maps, data sections, subprograms, kfuncs
/// and kernel symbols); the loader resolves them for the running kernel.
public struct ProgramSpec: Sendable, Hashable {
    /// The name of the program's function in the object.
    public var name: String
    /// The ELF section the program came from (`kprobe/sys_execve`), which gave its type.
    public var sectionName: String
    /// The kind of program (`BPF_PROG_TYPE_*`).
    public var type: ProgramType
    /// The expected attach type passed at load time, or nil when the program type needs none.
    public var attachType: AttachType?
    /// What the program attaches to, when the section names it: a kernel function for kprobes and
    /// tracing programs, `group/name` for tracepoints, a path and symbol for uprobes.
    public var attachTarget: String?
    /// Load flags (`BPF_F_SLEEPABLE`, `BPF_F_XDP_HAS_FRAGS`, ...).
    public var flags: ProgramFlags
    /// The license the kernel checks GPL-only helpers against.
    public var license: String
    /// `LINUX_VERSION_CODE` for kernels that require it for kprobes; 0 otherwise.
    public var kernelVersion: UInt32
    /// The instructions of the program's own function. Calls of subprograms name their callee in
    /// ``Instruction/symbolReference`` (with a constant of -1 until linked); the linker appends the
    /// callees from ``CollectionSpec/subprograms``.
    public var instructions: [Instruction]
    /// BTF function info (`.BTF.ext`) for the function, its offsets in bytes from the function's
    /// first instruction. The kernel needs it for bpf-to-bpf calls and BTF-typed arguments.
    public var functionInfos: [BTFFuncInfo]
    /// BTF line info (`.BTF.ext`): the source line of instructions, offsets in bytes from the
    /// function's first instruction. Makes the verifier's log readable.
    public var lineInfos: [BTFLineInfo]
    /// CO-RE relocations (`.BTF.ext`), offsets in bytes from the function's first instruction;
    /// applied against the target kernel's BTF at load time.
    public var coreRelocations: [BTFCoreRelocation]
    /// Whether the function's ELF symbol is global or weak with hidden or internal visibility
    /// (`__attribute__((visibility("hidden")))`, libbpf's `__hidden`). As libbpf does, the loader
    /// gives such a subprogram (a function of `.text`) static linkage in the BTF it loads, so the
    /// verifier checks it in its caller's context instead of on its own as a global function.
    public var isHidden: Bool

    public init(
        name: String, sectionName: String = "", type: ProgramType, attachType: AttachType? = nil,
        attachTarget: String? = nil, flags: ProgramFlags = [], license: String = "GPL",
        kernelVersion: UInt32 = 0, instructions: [Instruction], functionInfos: [BTFFuncInfo] = [],
        lineInfos: [BTFLineInfo] = [], coreRelocations: [BTFCoreRelocation] = [], isHidden: Bool = false
    ) {
        self.name = name
        self.sectionName = sectionName
        self.type = type
        self.attachType = attachType
        self.attachTarget = attachTarget
        self.flags = flags
        self.license = license
        self.kernelVersion = kernelVersion
        self.instructions = instructions
        self.functionInfos = functionInfos
        self.lineInfos = lineInfos
        self.coreRelocations = coreRelocations
        self.isHidden = isHidden
    }
}

/// Flags for loading a program (`prog_flags` of `BPF_PROG_LOAD`).
public struct ProgramFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_F_STRICT_ALIGNMENT`: verify alignment as if the architecture required it.
    public static let strictAlignment = ProgramFlags(rawValue: 1 << 0)
    /// `BPF_F_ANY_ALIGNMENT`: allow any alignment (testing only).
    public static let anyAlignment = ProgramFlags(rawValue: 1 << 1)
    /// `BPF_F_TEST_RND_HI32`: verifier testing aid.
    public static let testRandomHigh32 = ProgramFlags(rawValue: 1 << 2)
    /// `BPF_F_TEST_STATE_FREQ`: verifier testing aid.
    public static let testStateFrequency = ProgramFlags(rawValue: 1 << 3)
    /// `BPF_F_SLEEPABLE`: the program may sleep (sections ending in `.s`).
    public static let sleepable = ProgramFlags(rawValue: 1 << 4)
    /// `BPF_F_XDP_HAS_FRAGS`: an XDP program that handles multi-buffer packets (`xdp.frags`).
    public static let xdpHasFragments = ProgramFlags(rawValue: 1 << 5)
    /// `BPF_F_XDP_DEV_BOUND_ONLY`: an XDP program bound to one device.
    public static let xdpDeviceBoundOnly = ProgramFlags(rawValue: 1 << 6)
    /// `BPF_F_TEST_REG_INVARIANTS`: verifier testing aid.
    public static let testRegisterInvariants = ProgramFlags(rawValue: 1 << 7)
}
