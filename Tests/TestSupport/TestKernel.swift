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
            let symbols = readFile("/proc/kallsyms").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return symbols.contains(" register_fprobe")
                ? (true, "kallsyms has register_fprobe") : (false, "kallsyms lacks register_fprobe (CONFIG_FPROBE off)")
        }
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
