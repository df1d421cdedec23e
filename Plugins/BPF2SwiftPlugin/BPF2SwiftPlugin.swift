import Foundation
import PackagePlugin

/// Runs bpf2swift on a target's BPF C sources during `swift build`.
///
/// The sources are the `*.bpf.c` files in the target's `bpf/` folder, which the target lists in
/// `exclude:` (SwiftPM refuses C files in a Swift target, and excluded files are still on disk for
/// the plugin to find). Each `name.bpf.c` becomes `name.swift` in the plugin's work directory,
/// compiled into the target, with the identifier `Name` (`exec_count.bpf.c` gives `ExecCount`,
/// `loadExecCountObjects()`).
///
/// Clang comes from `$CLANG` when set, otherwise from the toolchain that runs the build (its
/// clang has the BPF target); bpf2swift checks that it can compile for BPF and says so when not.
///
/// Without configuration, sources written for libbpf compile as they are: the target is the build
/// machine's architecture (`-target amd64` on x86-64: `bpfel` with `-D__TARGET_ARCH_x86`, which
/// `bpf_tracing.h` needs), the multiarch include directory (`/usr/include/x86_64-linux-gnu`, where
/// `<asm/types.h>` lives) is searched after the system's, and the `bpf/` folder is on the include
/// path, so a `vmlinux.h` beside the sources resolves as `"vmlinux.h"` or `<vmlinux.h>`. A
/// `bpf2swift.json` next to the `bpf/` folder changes that (see ``PluginConfiguration``).
/// Headers a source includes count as inputs from the second build on: bpf2swift records them
/// in a dependency file that the plugin reads back.
///
/// These are build commands, not prebuild commands: a prebuild command may only run a prebuilt
/// binary, not an executable built from this package like bpf2swift, and its outputs are found by
/// listing a directory after it ran. Build commands declare their outputs, so SwiftPM compiles
/// each generated file into the target and reruns bpf2swift only when an input changed.
@main
struct BPF2SwiftPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let bpfDirectory = target.directoryURL.appending(path: "bpf")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: bpfDirectory.path)) ?? []
        let sources = names.filter { $0.hasSuffix(".bpf.c") }.sorted()
        if sources.isEmpty {
            Diagnostics.warning("\(target.name): BPF2SwiftPlugin found no *.bpf.c in \(bpfDirectory.path)")
            return []
        }
        let bpf2swift = try context.tool(named: "bpf2swift")
        let clang = try compiler(context: context)
        let outputDirectory = context.pluginWorkDirectoryURL
        let configurationFile = target.directoryURL.appending(path: PluginConfiguration.fileName)
        let configuration = try PluginConfiguration.load(from: configurationFile)
        for name in configuration.sources.keys.sorted() where !sources.contains(name) {
            Diagnostics.warning("\(configurationFile.path): \"sources\" names \(name), which is not in \(bpfDirectory.path)")
        }

        return sources.map { name in
            let stem = String(name.dropLast(".bpf.c".count))
            let identifier = Self.identifier(for: stem)
            let source = bpfDirectory.appending(path: name)
            let output = outputDirectory.appending(path: stem + ".swift")
            let dependencyFile = outputDirectory.appending(path: stem + ".d")
            var inputs = [source, bpf2swift.url]
            if FileManager.default.fileExists(atPath: configurationFile.path) { inputs.append(configurationFile) }
            for header in Self.prerequisites(of: dependencyFile) where header.path != source.path {
                inputs.append(header)
            }
            let options = configuration.arguments(
                for: name, targetDirectory: target.directoryURL, bpfDirectory: bpfDirectory,
                outputDirectory: outputDirectory)
            return .buildCommand(
                displayName: "bpf2swift \(identifier) \(target.name)/bpf/\(name)",
                executable: bpf2swift.url,
                arguments: [
                    "-cc", clang, "-output-dir", outputDirectory.path, "-output-stem", stem,
                    "-depfile", dependencyFile.path,
                ] + options.bpf2swift + [identifier, source.path, "--"] + options.clang,
                inputFiles: inputs,
                outputFiles: [output])
        }
    }

    /// `$CLANG`, or the toolchain's clang.
    func compiler(context: PluginContext) throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["CLANG"], !explicit.isEmpty { return explicit }
        do {
            return try context.tool(named: "clang").url.path
        } catch {
            throw PluginError.noClang(String(describing: error))
        }
    }

    /// `exec_count` -> `ExecCount`; a stem that starts with a digit gets a leading `BPF`.
    static func identifier(for stem: String) -> String {
        let words = stem.split(whereSeparator: { !($0.isLetter || $0.isNumber) || !$0.isASCII })
        var result = words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        if result.isEmpty || result.first?.isNumber == true { result = "BPF" + result }
        return result
    }

    /// The prerequisites a previous run of bpf2swift recorded, as absolute URLs.
    static func prerequisites(of dependencyFile: URL) -> [URL] {
        guard let text = try? String(contentsOf: dependencyFile, encoding: .utf8) else { return [] }
        var result: [URL] = []
        // Lines after the first rule's target: `  path \`; stop at the first empty line.
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { break }
            var path = trimmed.hasSuffix("\\") ? String(trimmed.dropLast()).trimmingCharacters(in: .whitespaces) : trimmed
            path = path.replacingOccurrences(of: "\\ ", with: " ").replacingOccurrences(of: "\\#", with: "#")
                .replacingOccurrences(of: "$$", with: "$")
            if path.hasPrefix("/") { result.append(URL(fileURLWithPath: path)) }
        }
        return result
    }
}

enum PluginError: Error, CustomStringConvertible {
    case noClang(String)
    case badConfiguration(file: String, reason: String)

    var description: String {
        switch self {
        case .noClang(let detail):
            "BPF2SwiftPlugin: no clang in the toolchain (\(detail)); set CLANG to a clang with the BPF target"
        case .badConfiguration(let file, let reason):
            "BPF2SwiftPlugin: \(file): \(reason)"
        }
    }
}
