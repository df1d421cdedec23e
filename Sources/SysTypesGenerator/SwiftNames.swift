// Turning the kernel's snake_case and SCREAMING_CASE names into the Swift names the rest of the
// library already uses (`inner_map_fd` -> `innerMapFD`, `BPF_CGROUP_INET4_BIND` -> `cgroupINet4Bind`).

enum SwiftNames {
    /// Words written in a fixed case when they are not the first word of a name. The first word of a
    /// name is always all lowercase (`btf_fd` -> `btfFD`, but `prog_btf_fd` -> `progBTFFD`).
    static let fixedWords: [String: String] = [
        "id": "ID", "ids": "IDs", "fd": "FD", "btf": "BTF", "bpf": "BPF", "uid": "UID", "tid": "TID",
        "pid": "PID", "skb": "SKB", "inet": "INet", "inet4": "INet4", "inet6": "INet6", "udp4": "UDP4",
        "udp6": "UDP6", "fentry": "FEntry", "fexit": "FExit", "mac": "MAC", "seg6local": "Seg6Local",
        "cpumap": "CPUMap",
    ]

    /// Swift keywords that need backticks where a C name collides with one.
    static let keywords: Set<String> = [
        "associatedtype", "as", "break", "case", "catch", "class", "continue", "default", "defer", "deinit",
        "do", "else", "enum", "extension", "fallthrough", "false", "fileprivate", "for", "func", "guard", "if",
        "import", "in", "init", "inout", "internal", "is", "let", "nil", "operator", "private", "protocol",
        "public", "repeat", "rethrows", "return", "self", "static", "struct", "subscript", "super", "switch",
        "throw", "throws", "true", "try", "typealias", "var", "where", "while",
    ]

    /// `inner_map_fd` -> `innerMapFD`; `BPF_MAP_CREATE` with prefix `BPF_` -> `mapCreate`.
    static func lowerCamel(_ name: String, droppingPrefix prefix: String = "") -> String {
        var body = Substring(name)
        if !prefix.isEmpty, body.hasPrefix(prefix) {
            body = body.dropFirst(prefix.count)
        }
        let words = body.split(separator: "_").map { $0.lowercased() }
        var result = ""
        for (index, word) in words.enumerated() {
            if index == 0 {
                result += word
            } else if let fixed = fixedWords[word] {
                result += fixed
            } else {
                result += word.prefix(1).uppercased() + word.dropFirst()
            }
        }
        return result
    }

    /// The name as it can be written in a declaration.
    static func declared(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }
}
