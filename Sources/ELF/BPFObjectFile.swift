import EBPFELFFile

/// A BPF object file as clang writes it: a relocatable ELF64 file for `EM_BPF`, checked and
/// with its first two reader phases done (license and kernel version).
///
/// Building a whole ``CollectionSpec`` from it is the object reader's job; this type holds what
/// every later phase starts from.
public struct BPFObjectFile: Sendable {
    /// The underlying ELF file.
    public let elf: ELFFile
    /// The contents of the `license` section without its terminating NUL; nil if the object has none.
    /// The kernel refuses GPL-only helpers to programs whose license is not GPL-compatible.
    public let license: String?
    /// The contents of the `version` section, a `LINUX_VERSION_CODE` that kernels before 5.0 required
    /// for kprobe programs; nil if the object has none.
    public let kernelVersion: UInt32?

    /// Reads an object from its bytes.
    public init(bytes: [UInt8]) throws(BPFObjectError) {
        let elf: ELFFile
        do {
            elf = try ELFFile(bytes: bytes)
        } catch {
            throw .elf(error)
        }
        try self.init(elf: elf)
    }

    /// Reads an object from a file.
    public init(path: String) throws(BPFObjectError) {
        let elf: ELFFile
        do {
            elf = try ELFFile(path: path)
        } catch {
            throw .elf(error)
        }
        try self.init(elf: elf)
    }

    /// Checks that `elf` is a BPF object and reads its license and kernel version.
    public init(elf: ELFFile) throws(BPFObjectError) {
        guard elf.header.machine == .bpf else { throw .notBPF(machine: elf.header.machine.rawValue) }
        guard elf.header.type == .relocatable else { throw .notRelocatable(type: elf.header.type.rawValue) }
        self.elf = elf

        if let section = elf.section(named: "license") {
            let bytes = try Self.contents(of: section, in: elf)
            guard let end = bytes.firstIndex(of: 0) else { throw .unterminatedLicense }
            license = String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        } else {
            license = nil
        }

        if let section = elf.section(named: "version") {
            let bytes = try Self.contents(of: section, in: elf)
            guard bytes.count == 4 else { throw .badVersionSize(bytes.count) }
            let reader = ByteReader(bytes: bytes, byteOrder: elf.header.byteOrder)
            kernelVersion = try? reader.readU32(at: 0)
        } else {
            kernelVersion = nil
        }
    }

    private static func contents(of section: ELFSection, in elf: ELFFile) throws(BPFObjectError) -> ArraySlice<UInt8> {
        do {
            return try elf.contents(of: section)
        } catch {
            throw .elf(error)
        }
    }
}

