import Glibc

// What /proc/self/fdinfo says about a BPF descriptor. Some facts are only there: a map's
// `frozen` state, the `memlock` accounting bpftool prints as `bytes_memlock`, and the kind of
// object a pinned file holds (`prog_type`, `map_type`, `link_type`).

extension Sys {
    /// The `key:\tvalue` lines of `/proc/self/fdinfo/<descriptorValue>`, keyed by name; nil when
    /// the file cannot be read (no procfs, or the number is not open).
    public static func descriptorInfo(descriptorValue: Int32) -> [String: String]? {
        let path = "/proc/self/fdinfo/\(descriptorValue)"
        let handle = open(path, O_RDONLY | O_CLOEXEC)
        guard handle >= 0 else { return nil }
        defer { close(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(handle, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            fields[String(key)] = String(value)
        }
        return fields
    }

    /// The kind of BPF object behind `descriptorValue`, read from the anonymous inode's name
    /// (`anon_inode:bpf-prog`, `bpf-map`, `bpf-link`; BTF objects are `btf`); nil for anything
    /// else.
    public static func objectKind(descriptorValue: Int32) -> BPFObjectKind? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/fd/\(descriptorValue)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch target {
        case "anon_inode:bpf-prog": return .program
        case "anon_inode:bpf-map": return .map
        case "anon_inode:bpf_link", "anon_inode:bpf-link": return .link
        case "anon_inode:btf", "anon_inode:bpf-btf": return .btf
        default: return nil
        }
    }
}
