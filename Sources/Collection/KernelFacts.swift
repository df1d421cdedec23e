import EBPFBTF
import EBPFSys
import Glibc

/// What one load reads from the running kernel, each fact read once and only when needed:
/// BTF (vmlinux, modules, or the options' target BTF), the configuration, kallsyms and the
/// version.
final class KernelFacts {
    let options: CollectionOptions
    private var vmlinuxSpec: BTFSpec?
    private var moduleSpecs: [(name: String, spec: BTFSpec)]?
    private var configValues: [String: String]?
    private var kernelSymbolAddresses: [String: UInt64]?
    /// Module BTF objects opened for `fd_array` and typed ksyms, by module name.
    private(set) var moduleBTFHandles: [String: BTFHandle] = [:]

    init(options: CollectionOptions) {
        self.options = options
    }

    deinit {
        for handle in moduleBTFHandles.values {
            try? handle.close()
        }
    }

    // MARK: - BTF

    /// The BTF CO-RE relocates against and ksyms and attach targets are looked up in.
    func vmlinux() throws(CollectionError) -> BTFSpec {
        if let vmlinuxSpec { return vmlinuxSpec }
        let spec: BTFSpec
        if let given = options.kernelTypes {
            spec = given
        } else {
            do {
                spec = try options.kernelBTFCache.vmlinux()
            } catch {
                throw CollectionError(.kernel, .btf(error))
            }
        }
        vmlinuxSpec = spec
        return spec
    }

    /// The BTF of the kernel's modules (or the options' module BTF), by module name.
    func modules() throws(CollectionError) -> [(name: String, spec: BTFSpec)] {
        if let moduleSpecs { return moduleSpecs }
        var result: [(name: String, spec: BTFSpec)] = []
        if options.kernelTypes != nil {
            result = options.kernelModuleTypes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        } else {
            for name in Self.moduleNames() {
                // A module can go away between listing and reading; it then has nothing to offer.
                if let spec = try? options.kernelBTFCache.module(name) {
                    result.append((name, spec))
                }
            }
        }
        moduleSpecs = result
        return result
    }

    /// The modules with BTF in sysfs.
    static func moduleNames() -> [String] {
        guard let directory = opendir(KernelBTF.sysfsDirectory) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != "..", name != "vmlinux" else { continue }
            names.append(name)
        }
        return names.sorted()
    }

    /// The BTF object of module `name` loaded in the kernel, for `fd_array` and `BTF_ID` loads.
    func moduleBTFHandle(_ name: String) throws(CollectionError) -> BTFHandle {
        if let handle = moduleBTFHandles[name] { return handle }
        var current: UInt32 = 0
        while true {
            let next: UInt32?
            do {
                next = try Sys.nextID(of: .btf, after: current)
            } catch {
                throw CollectionError(.kernel, .syscall(error))
            }
            guard let id = next else { break }
            current = id
            if let handle = try Self.openModuleBTF(id: id, named: name) {
                moduleBTFHandles[name] = handle
                return handle
            }
        }
        throw CollectionError(.kernel, .kernelSymbolNotFound(name: "BTF of module \(name)", kind: .kernelSymbol))
    }

    /// The BTF object with `id` when it is the kernel BTF of module `name`, nil for another
    /// object or one that went away.
    private static func openModuleBTF(id: UInt32, named name: String) throws(CollectionError) -> BTFHandle? {
        let descriptor: FileDescriptor
        do {
            descriptor = try Sys.openObject(.btf, id: id)
        } catch {
            // The object went away between BPF_BTF_GET_NEXT_ID and the open (a module unloaded,
            // a program's BTF freed): skip it. Any other failure is the answer.
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw CollectionError(.kernel, .syscall(error))
        }
        let info: BTFInfo
        let objectName: String
        do {
            (info, objectName) = try Sys.btfInfoAndName(of: descriptor)
        } catch {
            throw CollectionError(.kernel, .syscall(error))
        }
        guard info.kernelBTF != 0, objectName == name else { return nil }
        return BTFHandle(adopting: descriptor)
    }

    // MARK: - Configuration

    /// `CONFIG_*` values of the running kernel: `/proc/config.gz`, else `/boot/config-<release>`.
    func config() throws(CollectionError) -> [String: String] {
        if let configValues { return configValues }
        var text: [UInt8]?
        if let compressed = try? Self.readFile("/proc/config.gz") {
            do {
                text = try Inflate.gunzip(compressed)
            } catch {
                throw CollectionError(.kernel, .kernelConfigUnavailable("/proc/config.gz: \(error)"))
            }
        } else {
            let path = "/boot/config-" + KernelBTF.kernelRelease()
            do {
                text = try Self.readFile(path)
            } catch {
                throw CollectionError(
                    .kernel, .kernelConfigUnavailable("neither /proc/config.gz nor \(path) is readable (\(error))"))
            }
        }
        let values = KernelConfig.parse(text ?? [])
        configValues = values
        return values
    }

    /// `LINUX_VERSION_CODE` of the running kernel, from `uname -r` (`6.18.44` -> 0x0612ff, the
    /// patch level capped at 255 as the kernel's `KERNEL_VERSION` does).
    static func versionCode(release: String = KernelBTF.kernelRelease()) -> UInt32 {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(3).map { UInt32($0) ?? 0 }
        let major = numbers.count > 0 ? min(numbers[0], 255) : 0
        let minor = numbers.count > 1 ? min(numbers[1], 255) : 0
        let patch = numbers.count > 2 ? min(numbers[2], 255) : 0
        return major << 16 | minor << 8 | patch
    }

    // MARK: - kallsyms

    /// The address of kernel symbol `name` from `/proc/kallsyms`; nil when absent. Addresses
    /// read as 0 without `CAP_SYSLOG`.
    func kernelSymbolAddress(_ name: String) throws(CollectionError) -> UInt64? {
        if kernelSymbolAddresses == nil {
            do {
                kernelSymbolAddresses = KernelConfig.parseKallsyms(try Self.readFile("/proc/kallsyms"))
            } catch {
                throw CollectionError(.kernel, .kernelConfigUnavailable("/proc/kallsyms: \(error)"))
            }
        }
        return kernelSymbolAddresses?[name]
    }

    /// The whole file, read without Foundation (procfs files report a size of 0).
    static func readFile(_ path: String) throws(Errno) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        defer { Glibc.close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            if count == 0 { return result }
            result += chunk[0..<count]
        }
    }
}
