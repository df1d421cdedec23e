import Foundation

/// What a target's `bpf2swift.json` (next to its `bpf/` folder) asks of the plugin. Every key is
/// optional; a file that is absent means the defaults.
///
/// ```json
/// {
///   "target": "amd64",
///   "cflags": ["-Wno-unused-function"],
///   "includeDirectories": ["../include"],
///   "defines": ["MAX_ENTRIES=1024", "DEBUG"],
///   "types": ["event"],
///   "vmlinux": true,
///   "sources": { "bootstrap.bpf.c": { "types": ["event"] } }
/// }
/// ```
///
/// - `target`: bpf2swift's `-target` (default: the build machine's architecture, as bpf2go's
///   `-target amd64`; `bpf` compiles arch-neutral sources for both byte orders).
/// - `cflags`, `defines` (`NAME` or `NAME=VALUE`), `includeDirectories` (relative to the target's
///   folder): added to every compilation.
/// - `types`: C types to declare in Swift beyond map keys and values (bpf2swift's `-type`).
/// - `vmlinux`: write `vmlinux.h` from the running kernel's BTF (`/sys/kernel/btf/vmlinux`) and
///   put it on the include path; a string names another BTF file.
/// - `sources`: per source file, `target`, `cflags`, `defines` and `types` that add to (or, for
///   `target`, replace) the ones above.
struct PluginConfiguration {
    static let fileName = "bpf2swift.json"

    struct Settings {
        var target: String?
        var cflags: [String] = []
        var defines: [String] = []
        var types: [String] = []
    }

    var common = Settings()
    var includeDirectories: [String] = []
    /// The BTF file to write `vmlinux.h` from; nil: none is written.
    var vmlinuxBTF: String?
    var sources: [String: Settings] = [:]

    /// Reads `file`; the defaults when it does not exist.
    static func load(from file: URL) throws -> PluginConfiguration {
        guard FileManager.default.fileExists(atPath: file.path) else { return PluginConfiguration() }
        func bad(_ reason: String) -> PluginError { .badConfiguration(file: file.path, reason: reason) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: try Data(contentsOf: file))
        } catch {
            throw bad("not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else { throw bad("expected a JSON object at the top level") }
        var configuration = PluginConfiguration()
        let settingKeys: Set<String> = ["target", "cflags", "defines", "types"]
        for key in root.keys where !settingKeys.union(["includeDirectories", "vmlinux", "sources"]).contains(key) {
            throw bad("unknown key \"\(key)\" (known: target, cflags, defines, includeDirectories, types, vmlinux, sources)")
        }
        configuration.common = try settings(root, at: "", bad)
        configuration.includeDirectories = try strings(root["includeDirectories"], at: "includeDirectories", bad)
        switch root["vmlinux"] {
        case nil: break
        case let flag as Bool where flag == true || flag == false:
            configuration.vmlinuxBTF = flag ? "/sys/kernel/btf/vmlinux" : nil
        case let path as String where !path.isEmpty: configuration.vmlinuxBTF = path
        default: throw bad("\"vmlinux\" must be true, false or the path of a BTF file")
        }
        if let sources = root["sources"] {
            guard let table = sources as? [String: Any] else { throw bad("\"sources\" must map file names to objects") }
            for (name, value) in table {
                guard let entry = value as? [String: Any] else { throw bad("\"sources\".\"\(name)\" must be an object") }
                for key in entry.keys where !settingKeys.contains(key) {
                    throw bad("unknown key \"\(key)\" for \(name) (known: target, cflags, defines, types)")
                }
                configuration.sources[name] = try settings(entry, at: "sources.\(name).", bad)
            }
        }
        return configuration
    }

    private static func settings(_ object: [String: Any], at path: String, _ bad: (String) -> PluginError) throws -> Settings {
        var result = Settings()
        if let target = object["target"] {
            guard let text = target as? String, !text.isEmpty else { throw bad("\"\(path)target\" must be a non-empty string") }
            result.target = text
        }
        result.cflags = try strings(object["cflags"], at: path + "cflags", bad)
        result.defines = try strings(object["defines"], at: path + "defines", bad)
        result.types = try strings(object["types"], at: path + "types", bad)
        return result
    }

    private static func strings(_ value: Any?, at path: String, _ bad: (String) -> PluginError) throws -> [String] {
        guard let value else { return [] }
        guard let list = value as? [Any], let texts = list as? [String], texts.allSatisfy({ !$0.isEmpty }) else {
            throw bad("\"\(path)\" must be a list of non-empty strings")
        }
        return texts
    }

    /// The bpf2swift options (before the identifier) and the clang flags (after `--`) for `source`.
    func arguments(
        for source: String, targetDirectory: URL, bpfDirectory: URL, outputDirectory: URL
    ) -> (bpf2swift: [String], clang: [String]) {
        let specific = sources[source] ?? Settings()
        var options = ["-target", specific.target ?? common.target ?? Self.hostTarget]
        for type in common.types + specific.types { options += ["-type", type] }
        if let vmlinuxBTF {
            options += ["-vmlinux-btf", vmlinuxBTF]
        }
        var flags: [String] = []
        for directory in includeDirectories {
            let url = directory.hasPrefix("/") ? URL(fileURLWithPath: directory) : targetDirectory.appending(path: directory)
            flags += ["-I", url.standardizedFileURL.path]
        }
        // `<vmlinux.h>` and other headers beside the sources, as libbpf-bootstrap's Makefile has it.
        flags += ["-I", bpfDirectory.path]
        for define in common.defines + specific.defines { flags.append("-D" + define) }
        flags += common.cflags + specific.cflags
        // libbpf's headers include <linux/bpf.h>, which includes <asm/types.h>: Debian keeps it in
        // the multiarch directory, which a clang targeting BPF does not search by itself.
        if let triple = Self.multiarchTriple, FileManager.default.fileExists(atPath: "/usr/include/\(triple)/asm") {
            flags += ["-idirafter", "/usr/include/\(triple)"]
        }
        return (options, flags)
    }

    /// bpf2swift's name for the build machine's architecture: `bpf_tracing.h` needs the
    /// `__TARGET_ARCH_*` this selects, and the object then matches the kernel it runs on.
    static var hostTarget: String {
        #if arch(x86_64)
            "amd64"
        #elseif arch(arm64)
            "arm64"
        #elseif arch(s390x)
            "s390x"
        #elseif arch(powerpc64le)
            "ppc64le"
        #elseif arch(riscv64)
            "riscv64"
        #else
            "native"
        #endif
    }

    /// Debian's multiarch tuple for the build machine.
    static var multiarchTriple: String? {
        #if arch(x86_64)
            "x86_64-linux-gnu"
        #elseif arch(arm64)
            "aarch64-linux-gnu"
        #elseif arch(s390x)
            "s390x-linux-gnu"
        #elseif arch(powerpc64le)
            "powerpc64le-linux-gnu"
        #elseif arch(riscv64)
            "riscv64-linux-gnu"
        #else
            nil
        #endif
    }
}
