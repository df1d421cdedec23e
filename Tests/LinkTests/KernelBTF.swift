import Glibc
import TestSupport

/// Finds a function's type id in the kernel's BTF (`/sys/kernel/btf/vmlinux`), enough for the
/// fentry test; the library's BTF module does the real work elsewhere.
enum KernelBTF {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `BTF_KIND_FUNC`.
    static let functionKind: UInt32 = 12
    /// `BTF_KIND_TYPEDEF`.
    static let typedefKind: UInt32 = 8

    static func functionID(named name: String) throws -> UInt32 {
        try typeID(named: name, kind: functionKind)
    }

    static func typeID(named name: String, kind wanted: UInt32) throws -> UInt32 {
        guard let bytes = readFile("/sys/kernel/btf/vmlinux") else { throw Failure(description: "no vmlinux BTF") }
        func u32(_ offset: Int) -> UInt32? {
            guard offset >= 0, offset + 4 <= bytes.count else { return nil }
            return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                | UInt32(bytes[offset + 3]) << 24
        }
        guard bytes.count >= 24, bytes[0] == 0x9f, bytes[1] == 0xeb, let headerLength = u32(4), let typeOffset = u32(8),
            let typeLength = u32(12), let stringOffset = u32(16)
        else { throw Failure(description: "not little-endian BTF") }
        let typesStart = Int(headerLength) + Int(typeOffset)
        let typesEnd = typesStart + Int(typeLength)
        let stringsStart = Int(headerLength) + Int(stringOffset)
        let target = Array(name.utf8) + [0]
        var offset = typesStart
        var id: UInt32 = 1
        while offset + 12 <= typesEnd {
            guard let nameOffset = u32(offset), let info = u32(offset + 4) else { break }
            let kind = (info >> 24) & 0x1f
            let count = Int(info & 0xffff)
            if kind == wanted {
                let start = stringsStart + Int(nameOffset)
                if start + target.count <= bytes.count, Array(bytes[start..<(start + target.count)]) == target {
                    return id
                }
            }
            let extra: Int
            switch kind {
            case 1, 14, 17: extra = 4
            case 3: extra = 12
            case 4, 5, 15, 19: extra = count * 12
            case 6, 13: extra = count * 8
            default: extra = 0
            }
            offset += 12 + extra
            id += 1
        }
        throw Failure(description: "no type \(name) of kind \(wanted) in vmlinux BTF")
    }
}
