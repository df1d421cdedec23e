import Glibc
import TestSupport

/// Finds type ids and struct layouts in the kernel's BTF (`/sys/kernel/btf/vmlinux`), enough for
/// the tracing, iterator and struct_ops tests; the library's BTF module does the real work
/// elsewhere.
enum KernelBTF {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `BTF_KIND_STRUCT`.
    static let structKind: UInt32 = 4
    /// `BTF_KIND_TYPEDEF`.
    static let typedefKind: UInt32 = 8
    /// `BTF_KIND_FUNC`.
    static let functionKind: UInt32 = 12

    /// A struct's id, size and members (name, byte offset, index).
    struct StructLayout {
        var id: UInt32
        var size: Int
        var members: [(name: String, offset: Int, index: Int)]

        func member(_ name: String) throws -> (offset: Int, index: Int) {
            guard let found = members.first(where: { $0.name == name }) else {
                throw Failure(description: "no member \(name) in struct of id \(id)")
            }
            return (found.offset, found.index)
        }
    }

    static func functionID(named name: String) throws -> UInt32 {
        try typeID(named: name, kind: functionKind)
    }

    static func typeID(named name: String, kind wanted: UInt32) throws -> UInt32 {
        try find(name, kind: wanted).id
    }

    static func structLayout(named name: String) throws -> StructLayout {
        let (id, members, size) = try find(name, kind: structKind)
        return StructLayout(id: id, size: size, members: members)
    }

    private static func find(_ name: String, kind wanted: UInt32) throws -> (
        id: UInt32, members: [(name: String, offset: Int, index: Int)], size: Int
    ) {
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
        func string(at nameOffset: UInt32) -> String {
            var end = stringsStart + Int(nameOffset)
            let start = end
            while end < bytes.count, bytes[end] != 0 { end += 1 }
            return start <= end && end <= bytes.count ? String(decoding: bytes[start..<end], as: UTF8.self) : ""
        }
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
                    var members: [(name: String, offset: Int, index: Int)] = []
                    if kind == structKind {
                        let bitfieldEncoding = info & (1 << 31) != 0
                        for index in 0..<count {
                            let record = offset + 12 + index * 12
                            guard let memberName = u32(record), let bits = u32(record + 8) else { break }
                            let bitOffset = bitfieldEncoding ? bits & 0xff_ffff : bits
                            members.append((string(at: memberName), Int(bitOffset / 8), index))
                        }
                    }
                    return (id, members, Int(u32(offset + 8) ?? 0))
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
