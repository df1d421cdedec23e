import EBPFELFFile
import Glibc
import Synchronization

/// The running kernel's BTF: vmlinux and module BTF from sysfs, with a fallback to the `.BTF`
/// section of an uncompressed vmlinux image for kernels without `/sys/kernel/btf`.
///
/// The functions here read and parse every time; `KernelBTF.cache` keeps what was read.
///
/// ```swift
/// let vmlinux = try KernelBTF.cache.vmlinux()
/// let nfConntrack = try KernelBTF.cache.module("nf_conntrack")
/// ```
public enum KernelBTF {
    /// The process-wide cache most callers use.
    public static let cache = KernelBTFCache()

    /// Where sysfs exposes the kernel's BTF (`CONFIG_DEBUG_INFO_BTF`, Linux 5.4).
    public static let sysfsDirectory = "/sys/kernel/btf"

    /// Reads vmlinux BTF from sysfs, or else from the first vmlinux image in
    /// `fallbackPaths(release:)` that exists.
    public static func loadVmlinux() throws(BTFError) -> BTFSpec {
        let sysfs = sysfsDirectory + "/vmlinux"
        do {
            return try BTFSpec(path: sysfs)
        } catch .readFailed(_, let code) where code == ENOENT {
            // No sysfs BTF: look for an image on disk.
        }
        let candidates = fallbackPaths(release: kernelRelease())
        for path in candidates where access(path, R_OK) == 0 {
            return try loadELF(path: path)
        }
        throw .kernelBTFNotFound(searched: [sysfs] + candidates)
    }

    /// Reads the BTF of a loaded kernel module, which is split BTF on top of `vmlinux`.
    /// Requires Linux 5.11 (`CONFIG_DEBUG_INFO_BTF_MODULES`).
    public static func loadModule(_ name: String, vmlinux: BTFSpec) throws(BTFError) -> BTFSpec {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw .readFailed(path: sysfsDirectory + "/" + name, errno: EINVAL)
        }
        return try BTFSpec(path: sysfsDirectory + "/" + name, base: vmlinux)
    }

    /// Reads the `.BTF` section of an ELF file, such as an uncompressed `vmlinux`.
    public static func loadELF(path: String, base: BTFSpec? = nil) throws(BTFError) -> BTFSpec {
        let file: ELFFile
        do {
            file = try ELFFile(path: path)
        } catch {
            throw .elf(path: path, reason: "\(error)")
        }
        guard let section = file.section(named: ".BTF") else {
            throw .elf(path: path, reason: "no .BTF section")
        }
        let contents: ArraySlice<UInt8>
        do {
            contents = try file.contents(of: section)
        } catch {
            throw .elf(path: path, reason: "\(error)")
        }
        return try BTFSpec(bytes: contents, base: base)
    }

    /// The places a vmlinux image with BTF is looked for when sysfs has none, in order, the same
    /// places libbpf searches.
    public static func fallbackPaths(release: String) -> [String] {
        [
            "/boot/vmlinux-\(release)",
            "/lib/modules/\(release)/vmlinux-\(release)",
            "/lib/modules/\(release)/build/vmlinux",
            "/usr/lib/modules/\(release)/kernel/vmlinux",
            "/usr/lib/modules/\(release)/vmlinux-\(release)",
            "/usr/lib/debug/boot/vmlinux-\(release)",
            "/usr/lib/debug/boot/vmlinux-\(release).debug",
            "/usr/lib/debug/lib/modules/\(release)/vmlinux",
        ]
    }

    /// `uname -r`.
    public static func kernelRelease() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: &names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// A thread-safe cache of the running kernel's BTF. Entries stay until `flush()`; flush after
/// loading or unloading kernel modules to see their BTF change.
public final class KernelBTFCache: Sendable {
    private struct Entries {
        var vmlinux: BTFSpec?
        var modules: [String: BTFSpec] = [:]
    }

    private let entries = Mutex(Entries())
    private let loadVmlinux: @Sendable () throws(BTFError) -> BTFSpec
    private let loadModule: @Sendable (String, BTFSpec) throws(BTFError) -> BTFSpec

    /// A cache over the running kernel.
    public convenience init() {
        self.init(
            vmlinux: { () throws(BTFError) in try KernelBTF.loadVmlinux() },
            module: { (name, base) throws(BTFError) in try KernelBTF.loadModule(name, vmlinux: base) })
    }

    /// A cache over other sources (tests, or BTF of another kernel).
    public init(
        vmlinux: @escaping @Sendable () throws(BTFError) -> BTFSpec,
        module: @escaping @Sendable (String, BTFSpec) throws(BTFError) -> BTFSpec
    ) {
        loadVmlinux = vmlinux
        loadModule = module
    }

    /// vmlinux BTF, read on first use. Concurrent first callers may both read it; one result is
    /// kept and returned to both.
    public func vmlinux() throws(BTFError) -> BTFSpec {
        if let cached = entries.withLock({ $0.vmlinux }) { return cached }
        let loaded = try loadVmlinux()
        return entries.withLock { state in
            if let existing = state.vmlinux { return existing }
            state.vmlinux = loaded
            return loaded
        }
    }

    /// The split BTF of module `name` on top of `vmlinux()`, read on first use.
    public func module(_ name: String) throws(BTFError) -> BTFSpec {
        if let cached = entries.withLock({ $0.modules[name] }) { return cached }
        let base = try vmlinux()
        let loaded = try loadModule(name, base)
        return entries.withLock { state in
            if let existing = state.modules[name] { return existing }
            state.modules[name] = loaded
            return loaded
        }
    }

    /// Forgets everything read so far.
    public func flush() {
        entries.withLock { $0 = Entries() }
    }
}
