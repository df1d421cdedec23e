/// One BPF target bpf2swift compiles for: the clang target and the byte order it produces.
struct CompileTarget: Equatable, Sendable {
    /// The clang target: `bpfel` or `bpfeb`.
    var clangTarget: String
    /// The `__TARGET_ARCH_*` macro libbpf's `bpf_tracing.h` expects, for targets named after a
    /// Linux architecture (`-target amd64`); nil for the plain byte-order targets.
    var architecture: String?

    var isLittleEndian: Bool { clangTarget == "bpfel" }
    /// `bpfel` or `bpfeb`: the suffix of the object's file name.
    var suffix: String { clangTarget }

    /// Architectures by the names bpf2go accepts (Go's and Linux's), with their byte order and
    /// the name `bpf_tracing.h` uses for them.
    static let architectures: [String: (clangTarget: String, architecture: String)] = [
        "386": ("bpfel", "x86"), "amd64": ("bpfel", "x86"), "x86": ("bpfel", "x86"), "x86_64": ("bpfel", "x86"),
        "arm": ("bpfel", "arm"), "arm64": ("bpfel", "arm64"), "aarch64": ("bpfel", "arm64"),
        "loong64": ("bpfel", "loongarch"), "mips": ("bpfeb", "mips"), "mipsle": ("bpfel", "mips"),
        "mips64": ("bpfeb", "mips"), "mips64le": ("bpfel", "mips"), "ppc64": ("bpfeb", "powerpc"),
        "ppc64le": ("bpfel", "powerpc"), "riscv64": ("bpfel", "riscv"), "s390x": ("bpfeb", "s390"),
    ]

    /// The targets a `-target` value names: a comma-separated list of `bpf` (both byte orders),
    /// `bpfel`, `bpfeb`, `native` (the byte order of the machine running bpf2swift) or an
    /// architecture (`amd64`, `arm64`, ...).
    static func parse(_ list: String) throws(UsageError) -> [CompileTarget] {
        var targets: [CompileTarget] = []
        func add(_ target: CompileTarget) throws(UsageError) {
            if targets.contains(where: { $0.clangTarget == target.clangTarget }) {
                throw .invalidValue(option: "-target", value: list, reason: "names \(target.clangTarget) twice")
            }
            targets.append(target)
        }
        for word in list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            switch word {
            case "bpf":
                try add(CompileTarget(clangTarget: "bpfel"))
                try add(CompileTarget(clangTarget: "bpfeb"))
            case "bpfel", "bpfeb": try add(CompileTarget(clangTarget: word))
            case "native":
                try add(CompileTarget(clangTarget: hostIsLittleEndian ? "bpfel" : "bpfeb"))
            default:
                guard let known = architectures[word] else {
                    throw .invalidValue(
                        option: "-target", value: word,
                        reason: "expected bpf, bpfel, bpfeb, native or one of \(architectures.keys.sorted().joined(separator: ", "))")
                }
                try add(CompileTarget(clangTarget: known.clangTarget, architecture: known.architecture))
            }
        }
        return targets
    }

    static var hostIsLittleEndian: Bool {
        #if _endian(little)
            true
        #else
            false
        #endif
    }
}

/// A command line bpf2swift did not understand.
enum UsageError: Error, Equatable, CustomStringConvertible {
    case missingArgument(String)
    case missingValue(option: String)
    case unknownOption(String)
    case unexpectedArgument(String)
    case invalidValue(option: String, value: String, reason: String)

    var description: String {
        switch self {
        case .missingArgument(let name): "missing argument \(name)"
        case .missingValue(let option): "option \(option) needs a value"
        case .unknownOption(let option): "unknown option \(option)"
        case .unexpectedArgument(let word): "unexpected argument \(word)"
        case .invalidValue(let option, let value, let reason): "invalid value '\(value)' for \(option): \(reason)"
        }
    }
}

/// What one run of bpf2swift is asked to do.
struct Options: Equatable {
    /// The prefix of the generated names: `<Ident>Objects`, `load<Ident>()`.
    var identifier: String
    /// The C source to compile.
    var source: String
    /// The C compiler; nil: `$BPF2SWIFT_CC`, `$CLANG`, the Swift toolchain's clang, then `clang`.
    var compiler: String?
    /// The tool that strips debug information; nil: found next to the compiler.
    var strip: String?
    /// Flags for every compilation, from `-cflags` and after `--`.
    var compilerFlags: [String] = []
    var targets: [CompileTarget] = CompileTarget.parseDefault
    /// Extra C types to declare in Swift, by name.
    var extraTypes: [String] = []
    var outputDirectory: String = "."
    /// The generated file is `<stem>.swift`; nil: the identifier in lower case.
    var outputStem: String?
    var noStrip = false
    /// Where the make-style dependency file goes; nil: `<output-dir>/<stem>.d`.
    var dependencyFile: String?
    /// Where to keep the compiled objects (`<stem>_bpfel.o`); nil: they are not kept.
    var objectDirectory: String?
    /// Regenerate even when the dependency file says the output is up to date.
    var force = false
    /// A BTF file (such as `/sys/kernel/btf/vmlinux`) to write `vmlinux.h` from, into a folder
    /// put first on the include path; nil: none is written.
    var vmlinuxBTF: String?
    /// Print the help text and exit.
    var help = false

    var stem: String { outputStem ?? identifier.lowercased() }
    var outputFile: String { join(outputDirectory, stem + ".swift") }
    var dependencyFilePath: String { dependencyFile ?? join(outputDirectory, stem + ".d") }

    static let usage = """
        USAGE: bpf2swift [options] <Ident> <source.c> [-- <clang flags>]

        Compiles a BPF C source for both byte orders and writes <stem>.swift, which declares
        <Ident>Objects, <Ident>Programs, <Ident>Maps and <Ident>Variables (loaded by name through
        LoadAndAssign), load<Ident>() returning the CollectionSpec of the object embedded in the
        file, and <Ident>Types with Swift structs for the C types of map keys and values.

        OPTIONS:
          -cc <path>            The C compiler (default: $BPF2SWIFT_CC, $CLANG, the Swift
                                toolchain's clang, then clang on $PATH).
          -strip <path>         llvm-strip or llvm-objcopy (default: the one next to the compiler).
          -cflags <flags>       Flags for clang, split at white space (quotes group words).
          -target <list>        Comma-separated: bpf (default: bpfel and bpfeb), bpfel, bpfeb,
                                native, or an architecture such as amd64 or arm64 (which also
                                defines __TARGET_ARCH_<arch> for bpf_tracing.h).
          -type <name>          Also declare the C type <name> in Swift (repeatable).
          -output-dir <dir>     Where to write <stem>.swift (default: the current directory).
          -output-stem <stem>   The file name stem (default: <Ident> in lower case).
          -object-dir <dir>     Keep the compiled objects there as <stem>_bpfel.o, <stem>_bpfeb.o.
          -depfile <path>       The make-style dependency file (default: <output-dir>/<stem>.d).
          -vmlinux-btf <path>   Write vmlinux.h from the BTF at <path> (/sys/kernel/btf/vmlinux:
                                the running kernel) to <output-dir>/<stem>.include/ and put
                                that folder first on the include path.
          -no-strip             Keep DWARF debug information in the embedded objects.
          -force                Regenerate even when no input changed.
          -h, -help             Show this help.
        """

    /// Parses the words after the program name.
    static func parse(_ words: [String]) throws(UsageError) -> Options {
        var positionals: [String] = []
        var compiler: String?
        var strip: String?
        var cflags: [String] = []
        var trailing: [String] = []
        var targets = CompileTarget.parseDefault
        var types: [String] = []
        var outputDirectory = "."
        var stem: String?
        var noStrip = false
        var dependencyFile: String?
        var objectDirectory: String?
        var force = false
        var vmlinuxBTF: String?

        var index = 0
        func value(_ option: String) throws(UsageError) -> String {
            index += 1
            guard index < words.count else { throw .missingValue(option: option) }
            return words[index]
        }
        while index < words.count {
            let word = words[index]
            if word == "--" {
                trailing = Array(words[(index + 1)...])
                break
            }
            // Accept `--option` as well as bpf2go's `-option`, and `-option=value`.
            var name = word
            var inlineValue: String?
            if word.hasPrefix("-"), word.count > 1 {
                name = String(word.drop(while: { $0 == "-" }))
                if let equals = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                name = "-" + name
            }
            func optionValue() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                return try value(name)
            }
            switch name {
            case "-cc": compiler = try optionValue()
            case "-strip": strip = try optionValue()
            case "-cflags": cflags += try splitFlags(try optionValue())
            case "-target": targets = try CompileTarget.parse(try optionValue())
            case "-type": types.append(try optionValue())
            case "-output-dir": outputDirectory = try optionValue()
            case "-output-stem": stem = try optionValue()
            case "-object-dir": objectDirectory = try optionValue()
            case "-depfile": dependencyFile = try optionValue()
            case "-no-strip": noStrip = true
            case "-force": force = true
            case "-vmlinux-btf": vmlinuxBTF = try optionValue()
            case "-h", "-help":
                return Options(identifier: "", source: "", help: true)
            default:
                if word.hasPrefix("-"), word.count > 1 { throw .unknownOption(word) }
                positionals.append(word)
            }
            index += 1
        }
        guard let identifier = positionals.first else { throw .missingArgument("<Ident>") }
        guard positionals.count >= 2 else { throw .missingArgument("<source.c>") }
        if positionals.count > 2 { throw .unexpectedArgument(positionals[2]) }
        guard SwiftNames.isIdentifier(identifier) else {
            throw .invalidValue(option: "<Ident>", value: identifier, reason: "not a Swift identifier")
        }
        if let stem, stem.isEmpty || stem.contains("/") {
            throw .invalidValue(option: "-output-stem", value: stem, reason: "a file name without /")
        }
        guard !targets.isEmpty else { throw .invalidValue(option: "-target", value: "", reason: "no target") }
        return Options(
            identifier: identifier, source: positionals[1], compiler: compiler, strip: strip,
            compilerFlags: cflags + trailing, targets: targets, extraTypes: types, outputDirectory: outputDirectory,
            outputStem: stem, noStrip: noStrip, dependencyFile: dependencyFile, objectDirectory: objectDirectory,
            force: force, vmlinuxBTF: vmlinuxBTF)
    }

    /// Splits a flags string at white space; single or double quotes keep white space in a word.
    static func splitFlags(_ text: String) throws(UsageError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" || character == "\n" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quote != nil { throw .invalidValue(option: "-cflags", value: text, reason: "unterminated quote") }
        if inWord { words.append(current) }
        return words
    }
}

extension CompileTarget {
    static let parseDefault = [CompileTarget(clangTarget: "bpfel"), CompileTarget(clangTarget: "bpfeb")]
}

/// `directory/name`, without doubling the slash.
func join(_ directory: String, _ name: String) -> String {
    if name.hasPrefix("/") { return name }
    if directory.isEmpty || directory == "." { return name }
    return directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
