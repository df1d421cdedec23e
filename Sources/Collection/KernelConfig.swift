import EBPFBTF
import Glibc

/// The `.kconfig` externs (`extern int CONFIG_HZ __kconfig;`): parsing the kernel's
/// configuration and encoding each value the way the extern's BTF type asks.
enum KernelConfig {
    /// The name of the map the object reader lays the externs out in.
    static let mapName = ".kconfig"

    /// `NAME=value` lines of a kernel `.config`; `# CONFIG_X is not set` lines give `n`.
    static func parse(_ text: [UInt8]) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let string = String(decoding: line, as: UTF8.self)
            if string.hasPrefix("# CONFIG_"), string.hasSuffix(" is not set") {
                let name = string.dropFirst(2).dropLast(" is not set".count)
                values[String(name)] = "n"
                continue
            }
            guard string.hasPrefix("CONFIG_"), let equals = string.firstIndex(of: "=") else { continue }
            values[String(string[..<equals])] = String(string[string.index(after: equals)...])
        }
        return values
    }

    /// `address type name [module]` lines of `/proc/kallsyms`; the first address of a name wins.
    static func parseKallsyms(_ text: [UInt8]) -> [String: UInt64] {
        var addresses: [String: UInt64] = [:]
        addresses.reserveCapacity(text.count / 40)
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3)
            guard fields.count >= 3, let address = UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16) else {
                continue
            }
            var name = fields[2]
            if let tab = name.firstIndex(of: UInt8(ascii: "\t")) {
                name = name[..<tab]
            }
            let key = String(decoding: name, as: UTF8.self)
            if addresses[key] == nil {
                addresses[key] = address
            }
        }
        return addresses
    }

    /// The bytes of `value` for an extern of BTF type `typeID` and `size` bytes, in the host's
    /// byte order. Nil (with the reason) when the value does not fit the type.
    static func encode(
        _ value: String, typeID: BTFTypeID?, size: Int, types: BTFSpec?
    ) -> Result<[UInt8], EncodingFailure> {
        var kind = ExternKind.integer(signed: false)
        if let types, let typeID, let resolved = try? types.underlyingTypeID(of: typeID), let type = try? types.type(resolved) {
            switch type {
            case .int(let int) where int.encoding.contains(.bool): kind = .bool
            case .int(let int) where int.encoding.contains(.char) || (int.size == 1 && int.name == "char"): kind = .char
            case .int(let int): kind = .integer(signed: int.encoding.contains(.signed))
            case .enum(let enumeration) where enumeration.name == "libbpf_tristate": kind = .tristate
            case .enum(let enumeration): kind = .integer(signed: enumeration.isSigned)
            case .array: kind = .string
            default: break
            }
        }
        switch kind {
        case .bool:
            switch value {
            case "y": return .success(littleEndian(1, size: size))
            case "n": return .success(littleEndian(0, size: size))
            default: return .failure(EncodingFailure("value '\(value)' for a bool"))
            }
        case .tristate:
            switch value {
            case "y": return .success(littleEndian(1, size: size))
            case "m": return .success(littleEndian(2, size: size))
            case "n": return .success(littleEndian(0, size: size))
            default: return .failure(EncodingFailure("value '\(value)' for a tristate"))
            }
        case .char:
            guard value.utf8.count == 1, let byte = value.utf8.first else {
                return .failure(EncodingFailure("value '\(value)' for a char"))
            }
            return .success(littleEndian(UInt64(byte), size: size))
        case .string:
            guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else {
                return .failure(EncodingFailure("value '\(value)' for a string"))
            }
            var bytes = Array(value.utf8.dropFirst().dropLast())
            // Truncated like libbpf does, always leaving the terminating NUL.
            bytes = Array(bytes.prefix(max(size - 1, 0)))
            bytes += [UInt8](repeating: 0, count: size - bytes.count)
            return .success(bytes)
        case .integer(let signed):
            guard let number = parseInteger(value) else {
                return .failure(EncodingFailure("value '\(value)' for an integer"))
            }
            // A zero-byte extern (`extern int CONFIG_X[0] __kconfig`) holds no integer.
            guard size > 0 else { return .failure(EncodingFailure("value \(value) for a \(size)-byte integer")) }
            if size < 8 {
                let bits = UInt64(size * 8)
                let fits = signed
                    ? (Int64(bitPattern: number) >= -(1 << Int64(bits - 1)) && Int64(bitPattern: number) < (1 << Int64(bits - 1)))
                    : number < (1 << bits)
                guard fits else { return .failure(EncodingFailure("value \(value) does not fit \(size) bytes")) }
            }
            return .success(littleEndian(number, size: size))
        }
    }

    struct EncodingFailure: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private enum ExternKind {
        case bool, tristate, char, string
        case integer(signed: Bool)
    }

    /// Decimal, `0x` hexadecimal or negative decimal, as the kernel's config writes numbers.
    private static func parseInteger(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            return UInt64(text.dropFirst(2), radix: 16)
        }
        if text.hasPrefix("-"), let magnitude = Int64(text) {
            return UInt64(bitPattern: magnitude)
        }
        return UInt64(text)
    }

    /// `value` in `size` bytes, host order (every BPF host this runs on is little-endian; a
    /// big-endian host stores the most significant byte first).
    static func littleEndian(_ value: UInt64, size: Int) -> [UInt8] {
        var bytes = (0..<max(size, 0)).map { UInt8(truncatingIfNeeded: $0 < 8 ? value >> UInt64($0 * 8) : 0) }
        if UInt32(1).bigEndian == 1 { bytes.reverse() }
        return bytes
    }
}

extension CollectionLoader {
    /// Fills the `.kconfig` map's value from the running kernel: `CONFIG_*` values, and the values
    /// libbpf computes itself (`LINUX_KERNEL_VERSION`, `LINUX_HAS_SYSCALL_WRAPPER`,
    /// `LINUX_HAS_BPF_COOKIE`). A config option the kernel does not have reads as 0.
    func fillKernelConfig() throws(CollectionError) {
        let externs = spec.variables.values.filter { $0.mapName == KernelConfig.mapName }
        for variable in externs.sorted(by: { $0.offset < $1.offset }) {
            let size = Int(variable.size)
            let bytes: [UInt8]
            switch variable.name {
            case _ where options.kernelConfigOverrides[variable.name] != nil:
                bytes = KernelConfig.littleEndian(options.kernelConfigOverrides[variable.name] ?? 0, size: size)
            case "LINUX_KERNEL_VERSION":
                bytes = KernelConfig.littleEndian(UInt64(KernelFacts.versionCode()), size: size)
            case "LINUX_HAS_SYSCALL_WRAPPER":
                let wrapped = try kernel.kernelSymbolAddress(Self.syscallPrefix + "sys_bpf") != nil
                bytes = KernelConfig.littleEndian(wrapped ? 1 : 0, size: size)
            case "LINUX_HAS_BPF_COOKIE":
                let cookie = (try? BPFFeatures.isSupported(.bpfCookie)) ?? false
                bytes = KernelConfig.littleEndian(cookie ? 1 : 0, size: size)
            default:
                guard variable.name.hasPrefix("CONFIG_") else {
                    throw CollectionError(.kernel, .kconfig(name: variable.name, why: "unknown extern"))
                }
                guard let value = try kernel.config()[variable.name] else { continue }
                switch KernelConfig.encode(value, typeID: variable.typeID, size: size, types: spec.types) {
                case .success(let encoded): bytes = encoded
                case .failure(let failure): throw CollectionError(.kernel, .kconfig(name: variable.name, why: failure.reason))
                }
            }
            do throws(VariableError) {
                try spec.setVariable(variable.name, to: bytes)
            } catch {
                throw CollectionError(.kernel, .variable(error))
            }
        }
    }

    /// The prefix of syscall entry points on this architecture when the kernel wraps them
    /// (`CONFIG_ARCH_HAS_SYSCALL_WRAPPER`).
    static var syscallPrefix: String {
        var names = utsname()
        guard uname(&names) == 0 else { return "__x64_" }
        let machine = withUnsafeBytes(of: &names.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch machine {
        case "x86_64": return "__x64_"
        case "aarch64": return "__arm64_"
        case "s390x": return "__s390x_"
        case "riscv64": return "__riscv_"
        case "ppc64le", "ppc64": return "__powerpc_"
        default: return "__\(machine)_"
        }
    }
}
