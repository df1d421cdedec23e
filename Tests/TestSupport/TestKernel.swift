import Glibc
import Testing

/// The kernels the test suite runs on, and what each is expected to have.
///
/// Written down once, here: a test of a feature declares it with ``Trait/requires(_:)``; it is
/// skipped (with the probe's finding as the reason) on a kernel that lacks the feature and is not
/// expected to have it, and it runs, and fails, on a kernel that is expected to have it but does
/// not.
///
/// | feature | host (6.18, CI machine) | `vm-6.1` (Debian 6.1 under QEMU) |
/// |---|---|---|
/// | uprobes | yes | yes |
/// | kprobes (`CONFIG_KPROBES`) | no | yes |
/// | tracing programs (fentry, fexit) | no: lockdown (integrity) refuses them | yes |
/// | kprobe.multi / kprobe.session (`CONFIG_FPROBE`) | no | no |
/// | uprobe.multi (Linux 6.6) | yes | no |
/// | tcx (`CONFIG_NET_XGRESS`, 6.6) | yes | no |
/// | netkit (`CONFIG_NETKIT`, 6.7) | no | no |
/// | netfilter links (`CONFIG_NETFILTER_BPF_LINK`, 6.4) | yes | no |
/// | socket map links (6.10) | yes | no |
/// | struct_ops links (6.4) | yes | no |
/// | BPF LSM programs (`CONFIG_BPF_LSM`, `bpf` in the active LSMs) | no: lockdown refuses tracing programs | yes |
public enum TestKernel: String, Sendable, CaseIterable {
    /// The development and CI machine itself.
    case host
    /// Debian's 6.1 kernel booted by `Scripts/vm-test.sh`.
    case vm61 = "vm-6.1"

    /// The environment variable `Scripts/vm-test.sh` sets inside the VM.
    public static let environmentVariable = "EBPF_TEST_KERNEL"

    /// The kernel the tests run on now: named by ``environmentVariable``, else the host.
    public static let current: TestKernel = {
        guard let value = getenv(environmentVariable) else { return .host }
        return TestKernel(rawValue: String(cString: value)) ?? .host
    }()

    /// Whether this kernel is expected to have `feature`.
    public func expects(_ feature: KernelFeature) -> Bool {
        switch (self, feature) {
        case (_, .uprobes): true
        case (.host, .kprobes): false
        case (.vm61, .kprobes): true
        case (.host, .tracingPrograms): false
        case (.vm61, .tracingPrograms): true
        case (_, .kprobeMulti): false
        case (.host, .uprobeMulti): true
        case (.vm61, .uprobeMulti): false
        case (.host, .tcx), (.host, .netfilterLinks), (.host, .socketMapLinks), (.host, .structOpsLinks): true
        case (.vm61, .tcx), (.vm61, .netfilterLinks), (.vm61, .socketMapLinks), (.vm61, .structOpsLinks): false
        case (_, .netkit): false
        case (.host, .lsmPrograms): false
        case (.vm61, .lsmPrograms): true
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
    /// kprobe.multi and kprobe.session links (`CONFIG_FPROBE`), probed through `kallsyms`
    /// (`register_fprobe`).
    case kprobeMulti
    /// uprobe.multi links (Linux 6.6), probed through `kallsyms` (`bpf_uprobe_multi_link_attach`).
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
        case .uprobeMulti:
            return Self.kallsymsProbe("bpf_uprobe_multi_link_attach", option: "Linux 6.6")
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
