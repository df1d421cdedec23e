import EBPFBTF

/// How a ``CollectionSpec`` is loaded (cilium/ebpf's `CollectionOptions`).
///
/// ```swift
/// var options = CollectionOptions()
/// options.pinPath = "/sys/fs/bpf/myapp"
/// options.mapReplacements["counts"] = existingCounts
/// let collection = try LoadedCollection(spec: spec, options: options)
/// ```
public struct CollectionOptions: Sendable {
    /// Log level and initial log size for every program.
    public var programs: ProgramOptions
    /// The directory on a BPF file system under which maps with ``MapPinning/byName`` are pinned
    /// by their names, and reused when a compatible map is already pinned there. Required when
    /// the spec has such maps.
    public var pinPath: String?
    /// Existing maps to use instead of creating the map of the same name. Each must match the
    /// spec's type, key and value sizes, maximum entries and flags; it is not written to, and
    /// closing the collection does not close it.
    public var mapReplacements: [String: Map]
    /// The BTF CO-RE relocations are resolved against, instead of the running kernel's
    /// (`/sys/kernel/btf/vmlinux`). Use it for kernels whose BTF comes from a file (BTFHub).
    public var kernelTypes: BTFSpec?
    /// The BTF of kernel modules to search for CO-RE candidates, by module name, instead of the
    /// running kernel's modules. Only used together with ``kernelTypes``.
    public var kernelModuleTypes: [String: BTFSpec]
    /// Where kernel BTF (vmlinux and modules) is read from and cached between loads.
    public var kernelBTFCache: KernelBTFCache
    /// For `freplace` programs and tracing programs that attach to another BPF program: the
    /// loaded program each attaches to, by the name of the program in this spec. The function
    /// named by the section (`freplace/handle_packet`) is looked up in that program's BTF.
    public var attachTargetPrograms: [String: Program]
    /// A BPF file system mounted with delegation options (`delegate_cmds=...`): maps, programs and
    /// BTF are created with a BPF token derived from it (`BPF_TOKEN_CREATE`; Linux 6.9), which
    /// lets an unprivileged user namespace load what the mount delegates.
    public var tokenFileSystemPath: String?
    /// Values for `__kconfig` externs that replace what the running kernel says, by name
    /// (`LINUX_HAS_BPF_COOKIE`, `CONFIG_HZ`), written in the extern's size. For testing the paths a
    /// program takes on other kernels, such as `usdt.bpf.h`'s lookup without BPF cookies.
    public var kernelConfigOverrides: [String: UInt64] = [:]

    public init(
        programs: ProgramOptions = ProgramOptions(), pinPath: String? = nil, mapReplacements: [String: Map] = [:],
        kernelTypes: BTFSpec? = nil, kernelModuleTypes: [String: BTFSpec] = [:],
        kernelBTFCache: KernelBTFCache = KernelBTF.cache, attachTargetPrograms: [String: Program] = [:],
        tokenFileSystemPath: String? = nil
    ) {
        self.programs = programs
        self.pinPath = pinPath
        self.mapReplacements = mapReplacements
        self.kernelTypes = kernelTypes
        self.kernelModuleTypes = kernelModuleTypes
        self.kernelBTFCache = kernelBTFCache
        self.attachTargetPrograms = attachTargetPrograms
        self.tokenFileSystemPath = tokenFileSystemPath
    }
}
