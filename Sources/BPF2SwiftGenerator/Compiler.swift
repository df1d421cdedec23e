import Glibc

/// Finds clang and the strip tool, and compiles a BPF C source into objects.
struct Compiler {
    /// The compiler's path.
    var clang: String
    /// llvm-objcopy (`--strip-debug`) or llvm-strip (`-g`); nil when stripping is off.
    var strip: String?

    /// Directories of the Swift toolchain: the one of `swift-frontend` on `$PATH`, then the usual
    /// install location. Its clang has the BPF target, whatever LLVM a distribution installed.
    static var toolchainDirectories: [String] {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let onPath = path.split(separator: ":").map(String.init)
        let toolchain = onPath.filter { Files.isExecutable($0 + "/swift-frontend") }
        return toolchain + ["/opt/swift/usr/bin", "/usr/bin"] + onPath
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Picks the compiler: `-cc`, `$BPF2SWIFT_CC`, `$CLANG`, then the first clang in the toolchain
    /// directories that has the BPF target.
    static func find(options: Options) throws(BPF2SwiftError) -> Compiler {
        let explicit = options.compiler ?? environment("BPF2SWIFT_CC") ?? environment("CLANG")
        var clang: String?
        var rejected: [String] = []
        if let explicit {
            guard try hasBPFTarget(explicit) else {
                throw .noBPFCompiler("\(explicit) cannot compile for BPF (its --print-targets lists no bpfel); use a clang built with the BPF target, such as the Swift toolchain's")
            }
            clang = explicit
        } else {
            for directory in toolchainDirectories {
                let candidate = directory + "/clang"
                guard Files.isExecutable(candidate), !rejected.contains(candidate) else { continue }
                if try hasBPFTarget(candidate) {
                    clang = candidate
                    break
                }
                rejected.append(candidate)
            }
        }
        guard let clang else {
            let tried = rejected.isEmpty ? "no clang found" : "tried \(rejected.joined(separator: ", ")), none has the BPF target"
            throw .noBPFCompiler("no BPF-capable clang (\(tried)); install the Swift toolchain (its clang targets BPF) or pass -cc / set CLANG")
        }
        var strip: String?
        if !options.noStrip {
            if let explicit = options.strip { strip = explicit } else { strip = try findStrip(near: clang) }
        }
        return Compiler(clang: clang, strip: strip)
    }

    static func hasBPFTarget(_ clang: String) throws(BPF2SwiftError) -> Bool {
        let result: (status: Int32, output: [UInt8])
        do throws(BPF2SwiftError) {
            result = try run(clang, ["--print-targets"], captureOutput: true)
        } catch {
            throw .noBPFCompiler("cannot run \(clang): \(error)")
        }
        return result.status == 0 && String(decoding: result.output, as: UTF8.self).contains("bpfel")
    }

    /// llvm-objcopy or llvm-strip from the compiler's directory, then from the toolchain and `$PATH`.
    static func findStrip(near clang: String) throws(BPF2SwiftError) -> String {
        var directories: [String] = []
        if let slash = clang.lastIndex(of: "/") { directories.append(String(clang[..<slash])) }
        directories += toolchainDirectories
        for directory in directories {
            for name in ["llvm-objcopy", "llvm-strip"] where Files.isExecutable(directory + "/" + name) {
                return directory + "/" + name
            }
        }
        throw .noBPFCompiler("no llvm-objcopy or llvm-strip next to \(clang) or on $PATH; pass -strip or -no-strip")
    }

    /// The flags every compilation gets before the user's: BTF needs `-g`; `-O2` because the
    /// verifier rejects unoptimised code; the source directory is mapped to `.` so the object (and
    /// so the generated file) does not depend on where the checkout lives.
    func flags(for target: CompileTarget, source: String, options: Options) -> [String] {
        var flags = ["-target", target.clangTarget, "-O2", "-g", "-Wall", "-fno-ident"]
        let directory = source.lastIndex(of: "/").map { String(source[..<$0]) } ?? "."
        flags += ["-fdebug-prefix-map=\(directory)=.", "-fdebug-compilation-dir=."]
        if let architecture = target.architecture { flags.append("-D__TARGET_ARCH_\(architecture)") }
        return flags + options.compilerFlags
    }

    /// Compiles `source` for `target` into `object`, writing clang's dependencies to `dependencies`.
    func compile(source: String, target: CompileTarget, object: String, dependencies: String, options: Options) throws(BPF2SwiftError) {
        let arguments = flags(for: target, source: source, options: options)
            + ["-c", source, "-o", object, "-MD", "-MF", dependencies, "-MT", object]
        let result = try run(clang, arguments)
        guard result.status == 0 else { throw .toolFailed(tool: clang, arguments: arguments, status: result.status) }
    }

    /// Removes DWARF from `object` in place; `.BTF` and `.BTF.ext` stay, as the loader needs them.
    func stripDebugInformation(_ object: String) throws(BPF2SwiftError) {
        guard let strip else { return }
        let arguments = strip.hasSuffix("objcopy") ? ["--strip-debug", object] : ["-g", object]
        let result = try run(strip, arguments)
        guard result.status == 0 else { throw .toolFailed(tool: strip, arguments: arguments, status: result.status) }
    }
}

// MARK: - Dependency files

/// Make-style dependency files: what clang writes with `-MD`, and the one bpf2swift writes for its
/// output.
enum DependencyFile {
    /// The prerequisites of the first rule in `text`: `target: a.c b.h \` continued lines, with
    /// `\ ` escaping a space in a path.
    static func prerequisites(in text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var escaped = false
        var sawColon = false
        for character in text {
            if escaped {
                escaped = false
                if character == "\n" { flushWord() } else { current.append(character) }
                continue
            }
            switch character {
            case "\\": escaped = true
            case " ", "\t", "\n":
                flushWord()
                if character == "\n", sawColon { return words }
            case ":" where !sawColon:
                sawColon = true
                current = ""
            default: current.append(character)
            }
        }
        flushWord()
        return words

        func flushWord() {
            if sawColon, !current.isEmpty { words.append(current) }
            current = ""
        }
    }

    static func escaped(_ path: String) -> String {
        var result = ""
        for character in path {
            if character == " " || character == "#" { result.append("\\") }
            if character == "$" { result.append("$") }
            result.append(character)
        }
        return result
    }

    /// A rule for `output` on `prerequisites`, each prerequisite also a rule of its own with no
    /// recipe (as clang's `-MP`), so deleting a header does not break `make`. The first line records
    /// the arguments the output was made with.
    static func text(output: String, prerequisites: [String], fingerprint: String) -> String {
        var text = "# bpf2swift \(fingerprint)\n"
        text += escaped(output) + ":"
        for prerequisite in prerequisites { text += " \\\n  " + escaped(prerequisite) }
        text += "\n"
        for prerequisite in prerequisites { text += "\n" + escaped(prerequisite) + ":\n" }
        return text
    }

    /// The fingerprint recorded in a dependency file written by ``text(output:prerequisites:fingerprint:)``.
    static func fingerprint(in text: String) -> String? {
        guard text.hasPrefix("# bpf2swift "), let end = text.firstIndex(of: "\n") else { return nil }
        return String(text[text.index(text.startIndex, offsetBy: 12)..<end])
    }

    /// Whether `output` is newer than everything `dependencyFile` lists and was made with the same
    /// arguments, and bpf2swift itself has not changed since.
    static func isUpToDate(output: String, dependencyFile: String, fingerprint: String) -> Bool {
        guard let outputTime = Files.modificationTime(output),
            let bytes = try? Files.read(dependencyFile)
        else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        guard self.fingerprint(in: text) == fingerprint else { return false }
        let body = text.drop(while: { $0 != "\n" })
        var inputs = prerequisites(in: String(body))
        inputs.append("/proc/self/exe")
        for input in inputs {
            guard let time = Files.modificationTime(input), time <= outputTime else { return false }
        }
        return true
    }

    /// FNV-1a over the words, as hex: enough to notice a changed command line.
    static func fingerprint(of words: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for word in words {
            for byte in word.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
