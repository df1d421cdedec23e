import EBPFSys
import Glibc
import Testing

/// The kernels the test suite runs on, and what each is expected to have.
///
/// Written down once, here: a test of a feature declares it with ``Trait/requires(_:)``; it is
/// skipped (with the probe's finding as the reason) on a kernel that lacks the feature and is not
/// expected to have it, and it runs, and fails, on a kernel that is expected to have it but does
/// not.
///
/// | feature | host (6.18, CI machine) | `vm-6.1` (Debian 6.1 under QEMU) | `vm-6.12` (Debian 12's 6.12 under QEMU) |
/// |---|---|---|---|
/// | uprobes | yes | yes | yes |
/// | uprobe.multi (Linux 6.6) | yes | no | yes |
/// | perf event links (Linux 5.15) | yes | yes | yes |
/// | perf event link info (Linux 6.6) | yes | no | yes |
/// | instruction set v4 (Linux 6.6) | yes | no | yes |
/// | kprobes (`CONFIG_KPROBES`) | no | yes | yes |
/// | tracing programs (fentry, fexit) | no: lockdown (integrity) refuses them | yes | yes |
/// | kprobe.multi (`CONFIG_FPROBE`) | no | no | yes |
/// | kprobe.session (`CONFIG_FPROBE`, Linux 6.10) | no | no | yes |
/// | tcx (`CONFIG_NET_XGRESS`, 6.6) | yes | no | yes |
/// | netkit (`CONFIG_NETKIT`, 6.7) | no | no | yes |
/// | netfilter links (`CONFIG_NETFILTER_BPF_LINK`, 6.4) | yes | no | yes |
/// | socket map links (6.10) | yes | no | yes |
/// | struct_ops links (6.4) | yes | no | yes |
/// | BPF LSM programs (`CONFIG_BPF_LSM`, `bpf` in the active LSMs) | no: lockdown refuses tracing programs | yes | yes |
/// | arena maps (Linux 6.9) | no: the kernel has them, but some machines of this kind refuse them with EPERM | no | yes |
/// | BPF memory charged to memory cgroups (Linux 5.11) | yes | yes | yes |
/// | every BTF kind the sanitiser replaces (enum64 is the newest, Linux 6.0) | yes | yes | yes |
/// | module BTF (`CONFIG_DEBUG_INFO_BTF_MODULES`, modules loaded) | no: no modules | yes | yes |
/// | a CPU performance monitoring unit (hardware perf events) | no: virtual machines of this kind have none | no | no |
/// | newest map type | 33 (`BPF_MAP_TYPE_ARENA`) | 31 (`BPF_MAP_TYPE_USER_RINGBUF`) | 33 |
///
/// Where machines of one kind differ (the host's arena maps), the table says the feature is not
/// expected and the probe's finding names the fact the test depends on.
public enum TestKernel: String, Sendable, CaseIterable {
    /// The development and CI machine itself.
    case host
    /// Debian's 6.1 kernel booted by `Scripts/vm-test.sh`.
    case vm61 = "vm-6.1"
    /// Debian 12's 6.12 kernel booted by `Scripts/vm-test.sh --kernel 6.12`.
    case vm612 = "vm-6.12"

    /// The environment variable `Scripts/vm-test.sh` sets inside the VM.
    public static let environmentVariable = "EBPF_TEST_KERNEL"

    /// The kernel the tests run on now: named by ``environmentVariable``, else the host.
    ///
    /// A value that names no test kernel is a mistake in how the tests were started, not the
    /// host: the process says so on standard error and exits with status 2 before any test
    /// runs with the wrong expectations.
    public static let current: TestKernel = {
        switch parse(getenv(environmentVariable).map { String(cString: $0) }) {
        case .success(let kernel):
            return kernel
        case .failure(let error):
            let message = Array("error: \(error)\n".utf8)
            _ = message.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            exit(2)
        }
    }()

    /// The test kernel a value of ``environmentVariable`` names; nil (unset) is the host.
    public static func parse(_ value: String?) -> Result<TestKernel, UnknownTestKernelError> {
        guard let value else { return .success(.host) }
        guard let kernel = TestKernel(rawValue: value) else { return .failure(UnknownTestKernelError(value: value)) }
        return .success(kernel)
    }

    /// The highest `BPF_MAP_TYPE_*` value this kernel knows.
    public var newestMapType: UInt32 {
        switch self {
        case .host, .vm612: 33
        case .vm61: 31
        }
    }

    /// Whether this kernel is expected to have `feature`.
    public func expects(_ feature: KernelFeature) -> Bool {
        switch (self, feature) {
        // QEMU without KVM emulates no CPU PMU, and the host VM kind exposes none either.
        case (_, .hardwarePMU): false
        case (.vm612, _): true
        case (_, .uprobes), (_, .memoryCgroupAccounting), (_, .everyBTFKind), (_, .perfEventLinks): true
        case (.host, .uprobeMulti), (.host, .instructionSetV4): true
        case (.vm61, .uprobeMulti), (.vm61, .instructionSetV4): false
        case (.host, .perfEventLinkInfo): true
        case (.vm61, .perfEventLinkInfo): false
        case (.host, .kprobes): false
        case (.vm61, .kprobes): true
        case (.host, .tracingPrograms): false
        case (.vm61, .tracingPrograms): true
        case (_, .kprobeMulti), (_, .kprobeSession): false
        case (.host, .tcx), (.host, .netfilterLinks), (.host, .socketMapLinks), (.host, .structOpsLinks): true
        case (.vm61, .tcx), (.vm61, .netfilterLinks), (.vm61, .socketMapLinks), (.vm61, .structOpsLinks): false
        case (_, .netkit): false
        case (.host, .lsmPrograms): false
        case (.vm61, .lsmPrograms): true
        // 6.18 has arenas, but machines of this kind differ: some refuse BPF_MAP_CREATE for one
        // with EPERM (root there lacks CAP_SYS_RESOURCE; whether that is the cause is not known).
        case (_, .arenaMaps): false
        case (.host, .moduleBTF): false
        case (.vm61, .moduleBTF): true
        }
    }
}

/// A kernel feature tests depend on, with a cheap probe that needs no library code.
public enum KernelFeature: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Kernel function probes: the `kprobe` perf PMU exists (`CONFIG_KPROBES`).
    case kprobes
    /// User-space probes: the `uprobe` perf PMU exists (`CONFIG_UPROBE_EVENTS`).
    case uprobes
    /// fentry/fexit programs load: BTF is present and kernel lockdown is off.
    case tracingPrograms
    /// kprobe.multi links (`CONFIG_FPROBE`), probed through `kallsyms` (`register_fprobe`).
    case kprobeMulti
    /// kprobe.session links (`CONFIG_FPROBE`, Linux 6.10), probed through `kallsyms`
    /// (`register_fprobe` and the `bpf_session_is_return` kfunc, which kernels without
    /// `CONFIG_FPROBE` list too).
    case kprobeSession
    /// uprobe.multi links (Linux 6.6), probed through `kallsyms` (`uprobe_multi_link_handler`,
    /// present only with `CONFIG_UPROBES`).
    case uprobeMulti
    /// tcx links on network interfaces (`CONFIG_NET_XGRESS`, Linux 6.6), probed through
    /// `kallsyms` (`tcx_link_attach`).
    case tcx
    /// netkit devices and links (`CONFIG_NETKIT`, Linux 6.7), probed through `kallsyms`
    /// (`netkit_link_attach`).
    case netkit
    /// Netfilter links (`CONFIG_NETFILTER_BPF_LINK`, Linux 6.4), probed through `kallsyms`
    /// (`bpf_nf_link_attach`).
    case netfilterLinks
    /// Links for socket map programs (Linux 6.10), probed through `kallsyms` (`sock_map_link_create`).
    case socketMapLinks
    /// struct_ops maps registered through links (Linux 6.4), probed through `kallsyms`
    /// (`bpf_struct_ops_link_create`).
    case structOpsLinks
    /// BPF LSM programs load and attach: tracing programs load and `bpf` is an active LSM.
    case lsmPrograms
    /// Arena maps (Linux 6.9) can be created here, probed by creating one (needs `CAP_BPF`; the
    /// finding names the errno and the effective capabilities when it fails).
    case arenaMaps
    /// BPF memory is charged to memory cgroups, not `RLIMIT_MEMLOCK` (Linux 5.11), read from the
    /// kernel release.
    case memoryCgroupAccounting
    /// Every BTF kind the sanitiser can replace is known to the kernel (enum64 is the newest,
    /// Linux 6.0), read from the kernel release.
    case everyBTFKind
    /// BTF of loaded modules in `/sys/kernel/btf` (`CONFIG_DEBUG_INFO_BTF_MODULES`).
    case moduleBTF
    /// `BPF_LINK_CREATE` for perf events (Linux 5.15), read from the kernel release.
    case perfEventLinks
    /// Perf event links report what they are attached to in their link info (Linux 6.6, commit
    /// "bpf: Support ->fill_link_info for perf_event"), read from the kernel release.
    case perfEventLinkInfo
    /// The v4 instructions (sign-extending moves and loads, 32-bit jumps; Linux 6.6), read from
    /// the kernel release.
    case instructionSetV4
    /// A CPU performance monitoring unit for hardware perf events (cycles, instructions): an
    /// event source named `cpu` (x86), `cpu_core`/`cpu_atom` (hybrid x86) or `armv8_pmuv3*`.
    case hardwarePMU

    public var description: String { rawValue }

    /// Whether the running kernel has the feature, and what the probe saw.
    public var probe: (present: Bool, finding: String) {
        switch self {
        case .kprobes:
            let path = "/sys/bus/event_source/devices/kprobe/type"
            return access(path, F_OK) == 0 ? (true, "\(path) exists") : (false, "no \(path)")
        case .uprobes:
            let path = "/sys/bus/event_source/devices/uprobe/type"
            return access(path, F_OK) == 0 ? (true, "\(path) exists") : (false, "no \(path)")
        case .tracingPrograms:
            guard access("/sys/kernel/btf/vmlinux", F_OK) == 0 else { return (false, "no /sys/kernel/btf/vmlinux") }
            let lockdown = KernelFeature.lockdownMode()
            if let lockdown, lockdown != "none" { return (false, "kernel lockdown is '\(lockdown)'") }
            return (true, "BTF present, lockdown \(lockdown ?? "not reported")")
        case .kprobeMulti:
            return Self.kallsymsProbe("register_fprobe", option: "CONFIG_FPROBE")
        case .kprobeSession:
            let multi = KernelFeature.kprobeMulti.probe
            guard multi.present else { return multi }
            return Self.kallsymsProbe("bpf_session_is_return", option: "Linux 6.10")
        case .uprobeMulti:
            return Self.kallsymsProbe("uprobe_multi_link_handler", option: "CONFIG_UPROBES, Linux 6.6")
        case .tcx:
            return Self.kallsymsProbe("tcx_link_attach", option: "CONFIG_NET_XGRESS, Linux 6.6")
        case .netkit:
            return Self.kallsymsProbe("netkit_link_attach", option: "CONFIG_NETKIT, Linux 6.7")
        case .netfilterLinks:
            return Self.kallsymsProbe("bpf_nf_link_attach", option: "CONFIG_NETFILTER_BPF_LINK, Linux 6.4")
        case .socketMapLinks:
            return Self.kallsymsProbe("sock_map_link_create", option: "Linux 6.10")
        case .structOpsLinks:
            return Self.kallsymsProbe("bpf_struct_ops_link_create", option: "Linux 6.4")
        case .arenaMaps:
            return Self.arenaProbe()
        case .memoryCgroupAccounting:
            return Self.releaseProbe(atLeast: (5, 11), for: "memory cgroup accounting of BPF memory")
        case .everyBTFKind:
            return Self.releaseProbe(atLeast: (6, 0), for: "BTF_KIND_ENUM64")
        case .perfEventLinks:
            return Self.releaseProbe(atLeast: (5, 15), for: "perf event links")
        case .perfEventLinkInfo:
            return Self.releaseProbe(atLeast: (6, 6), for: "perf event link info")
        case .instructionSetV4:
            return Self.releaseProbe(atLeast: (6, 6), for: "the v4 instruction set")
        case .moduleBTF:
            let modules = Self.moduleBTFNames()
            return modules.isEmpty
                ? (false, "/sys/kernel/btf has no module BTF") : (true, "/sys/kernel/btf has \(modules.count) modules")
        case .hardwarePMU:
            let sources = ["cpu", "cpu_core", "cpu_atom", "armv8_pmuv3", "armv8_pmuv3_0"]
            if let found = sources.first(where: { access("/sys/bus/event_source/devices/" + $0, F_OK) == 0 }) {
                return (true, "event source \(found) exists")
            }
            return (false, "no CPU PMU among /sys/bus/event_source/devices (\(sources.joined(separator: ", ")))")
        case .lsmPrograms:
            let tracing = KernelFeature.tracingPrograms.probe
            guard tracing.present else { return tracing }
            guard let active = readFile("/sys/kernel/security/lsm") else { return (false, "cannot read /sys/kernel/security/lsm") }
            let names = String(decoding: active, as: UTF8.self).split(separator: ",").map { $0.trimmingCharacters() }
            return names.contains("bpf")
                ? (true, "bpf is an active LSM") : (false, "bpf is not among the active LSMs (\(names.joined(separator: ",")))")
        }
    }

    /// Whether `/proc/kallsyms` names the function `symbol` (present only when `option` is on).
    static func kallsymsProbe(_ symbol: String, option: String) -> (present: Bool, finding: String) {
        let symbols = readFile("/proc/kallsyms").map { String(decoding: $0, as: UTF8.self) } ?? ""
        return symbols.contains(" \(symbol)\n")
            ? (true, "kallsyms has \(symbol)") : (false, "kallsyms lacks \(symbol) (\(option) off)")
    }

    /// Creates and closes a one-page arena map with the raw `BPF_MAP_CREATE`.
    static func arenaProbe() -> (present: Bool, finding: String) {
        let arena: UInt32 = 33
        let mmapable: UInt32 = 1 << 10
        do {
            _ = try Sys.createMap(type: arena, keySize: 0, valueSize: 0, maxEntries: 1, flags: mmapable)
            return (true, "BPF_MAP_CREATE made an arena map")
        } catch {
            let capabilities = String(Privileges.effectiveCapabilities, radix: 16)
            return (false, "BPF_MAP_CREATE for an arena map failed with \(error.errno) (CapEff \(capabilities))")
        }
    }

    /// Whether `uname`'s release is at least `minimum` (major, minor).
    static func releaseProbe(atLeast minimum: (Int, Int), for what: String) -> (present: Bool, finding: String) {
        let release = kernelRelease()
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return (false, "cannot read a version from release '\(release)'") }
        let present = (numbers[0], numbers[1]) >= minimum
        return (present, "release \(release) \(present ? "has" : "predates") \(what) (Linux \(minimum.0).\(minimum.1))")
    }

    /// The running kernel's release, as `uname -r` prints it.
    static func kernelRelease() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: names.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// The modules with BTF in `/sys/kernel/btf` (every entry but `vmlinux`).
    public static func moduleBTFNames() -> [String] {
        guard let directory = opendir("/sys/kernel/btf") else { return [] }
        defer { closedir(directory) }
        var modules: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "vmlinux", !name.hasPrefix(".") { modules.append(name) }
        }
        return modules.sorted()
    }

    /// The active lockdown mode (`none`, `integrity`, `confidentiality`) from securityfs, mounting
    /// it first when it is not mounted and the process may; nil when it cannot be read.
    static func lockdownMode() -> String? {
        let path = "/sys/kernel/security/lockdown"
        if access(path, F_OK) != 0 {
            _ = mount("securityfs", "/sys/kernel/security", "securityfs", 0, nil)
        }
        guard let bytes = readFile(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// Records a failure when the current kernel is expected to have the feature and lacks it.
    /// Call it first in a test gated with ``Trait/requires(_:)``.
    public func check(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let (present, finding) = probe
        if !present {
            Issue.record(
                "\(self) is expected on test kernel \(TestKernel.current.rawValue) but missing: \(finding)",
                sourceLocation: sourceLocation)
        }
        return present
    }
}

/// ``TestKernel/environmentVariable`` names no test kernel.
public struct UnknownTestKernelError: Error, CustomStringConvertible, Equatable {
    /// The value of the variable.
    public var value: String

    public init(value: String) {
        self.value = value
    }

    public var description: String {
        let known = TestKernel.allCases.map(\.rawValue).joined(separator: ", ")
        return "\(TestKernel.environmentVariable)='\(value)' names no test kernel (known: \(known))"
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.filter { $0 != "\n" && $0 != " " })
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where the kernel has `feature` or is expected to have it (see ``TestKernel``);
    /// elsewhere the test is skipped with the probe's finding.
    public static func requires(_ feature: KernelFeature) -> Self {
        let (present, finding) = feature.probe
        return .enabled(
            if: present || TestKernel.current.expects(feature),
            "needs \(feature): \(finding); test kernel \(TestKernel.current.rawValue) is not expected to have it")
    }

    /// Runs the test only where the kernel lacks `feature` (tests of the not-supported error).
    public static func lacks(_ feature: KernelFeature) -> Self {
        let (present, finding) = feature.probe
        return .enabled(if: !present, "tests the error for a missing \(feature), but \(finding)")
    }
}
