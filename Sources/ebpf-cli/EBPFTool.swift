import EBPF
import Glibc

/// What one invocation of `ebpf` asks for.
enum Command: Equatable {
    case help
    case version
    /// `ebpf btf dump FILE [--format c|raw]`.
    case btfDump(path: String, format: BTFDumpFormat)
    /// `ebpf inspect OBJ [--json]`: the spec read from an object file, as text or as JSON.
    case inspect(path: String, json: Bool)
    /// `ebpf load OBJ [--json] [--token-bpffs DIR] [--pin-path DIR]`: each program loaded on its
    /// own, with what it needs; with a BPF token from the delegating BPF file system at DIR when
    /// given; maps pinned by name (`LIBBPF_PIN_BY_NAME`) reused from or pinned under the pin path.
    case load(path: String, json: Bool, tokenFileSystem: String? = nil, pinPath: String = Command.defaultPinPath)
    /// `ebpf usdt list PATH [--json]`: the USDT probes of an executable or shared library.
    case usdtList(path: String, json: Bool)
    /// `ebpf prog|map|link|btf list|pin ...`: what is loaded in the kernel (ObjectCommand.swift).
    case objects(ObjectCommand)

    /// Where `ebpf load` pins maps pinned by name unless `--pin-path` says otherwise: libbpf's default.
    static let defaultPinPath = "/sys/fs/bpf"
}

/// How `ebpf btf dump` prints a spec.
enum BTFDumpFormat: String, Equatable {
    /// C declarations, a drop-in for `bpftool btf dump file FILE format c`.
    case c
    /// One line per type, as `bpftool btf dump file FILE` prints by default.
    case raw
}

/// The `ebpf` command-line tool: inspect BPF objects, load them, dump BTF.
@main
enum EBPFTool {
    static let usage = """
        USAGE: ebpf <command> [options]

        Inspect, load and debug eBPF objects with swift-ebpf.

        COMMANDS:
          help          Show this help.
          version       Print the version of swift-ebpf.
          btf dump FILE [--format c|raw]
                        Print the BTF of FILE (raw BTF such as /sys/kernel/btf/vmlinux, or an
                        ELF object with a .BTF section). `--format c` writes a vmlinux.h-style
                        header, like `bpftool btf dump file FILE format c`; raw is the default.
          inspect OBJ [--json]
                        Print the programs, maps and variables of a BPF object file; --json
                        prints them as JSON.
          load OBJ [--json] [--token-bpffs DIR] [--pin-path DIR]
                        Load each program of a BPF object on its own, with the maps and
                        programs it needs, and report per program: the error and the verifier
                        log's tail for failures; --json prints {"<program>": 0 or -errno}.
                        Needs root (CAP_BPF), or --token-bpffs: the root of a BPF file system
                        mounted with delegate_* options for the caller's user namespace, from
                        which a BPF token is made. Maps pinned by name (LIBBPF_PIN_BY_NAME)
                        reuse a compatible pin under --pin-path (default /sys/fs/bpf), fail on
                        an incompatible one, or are pinned there; pins created are listed (on
                        standard error with --json) and stay after the command, as bpftool's
                        do. Exits 1 when any program fails.
          usdt list PATH [--json]
                        Print the USDT probes of an executable or shared library: provider,
                        name, address and file offset, semaphore, parsed arguments.

        \(ObjectCommand.usage)

        OPTIONS:
          -h, --help    Show this help.
        """

    /// Parses the words after the program name into a command.
    static func parse(_ words: [String]) throws(UsageError) -> Command {
        if ObjectCommand.handles(words), !words.contains("-h"), !words.contains("--help") {
            return .objects(try ObjectCommand.parse(words))
        }
        let arguments = try Arguments(words, valueOptions: ["format", "token-bpffs", "pin-path"], flagOptions: ["json"])
        // Options are parsed for every command at once; each command rejects those not its own.
        func allowOnly(_ allowed: Set<String>) throws(UsageError) {
            if let option = arguments.options.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw .unknownOption("--" + option)
            }
            if let flag = arguments.flags.sorted().first(where: { !allowed.contains($0) }) {
                throw .unknownOption("--" + flag)
            }
        }
        if arguments.flags.contains("help") { return .help }
        guard let name = arguments.positionals.first else { return .help }
        let rest = arguments.positionals.dropFirst()
        switch name {
        case "help":
            return .help
        case "version":
            if let extra = rest.first { throw .unexpectedArgument(extra) }
            try allowOnly([])
            return .version
        case "btf":
            guard let subcommand = rest.first else { throw .missingArgument("btf subcommand (dump)") }
            guard subcommand == "dump" else { throw .unknownCommand("btf " + subcommand) }
            let operands = rest.dropFirst()
            guard let path = operands.first else { throw .missingArgument("FILE") }
            if let extra = operands.dropFirst().first { throw .unexpectedArgument(extra) }
            try allowOnly(["format"])
            let formatName = arguments.options["format"] ?? "raw"
            guard let format = BTFDumpFormat(rawValue: formatName) else {
                throw .invalidValue(option: "--format", value: formatName)
            }
            return .btfDump(path: path, format: format)
        case "inspect":
            guard let path = rest.first else { throw .missingArgument("OBJ") }
            if let extra = rest.dropFirst().first { throw .unexpectedArgument(extra) }
            try allowOnly(["json"])
            return .inspect(path: path, json: arguments.flags.contains("json"))
        case "load":
            guard let path = rest.first else { throw .missingArgument("OBJ") }
            if let extra = rest.dropFirst().first { throw .unexpectedArgument(extra) }
            try allowOnly(["json", "token-bpffs", "pin-path"])
            let pinPath = arguments.options["pin-path"] ?? Command.defaultPinPath
            guard !pinPath.isEmpty else { throw .invalidValue(option: "--pin-path", value: pinPath) }
            return .load(
                path: path, json: arguments.flags.contains("json"), tokenFileSystem: arguments.options["token-bpffs"],
                pinPath: pinPath)
        case "usdt":
            guard rest.first == "list" else { throw .unknownCommand("usdt " + (rest.first ?? "")) }
            guard let path = rest.dropFirst().first else { throw .missingArgument("PATH") }
            if let extra = rest.dropFirst(2).first { throw .unexpectedArgument(extra) }
            try allowOnly(["json"])
            return .usdtList(path: path, json: arguments.flags.contains("json"))
        default:
            throw .unknownCommand(name)
        }
    }

    /// Runs a command, writing its output to `output`; returns the process exit status.
    ///
    /// Output too large to hold as one string (`btf dump --format c` of vmlinux) goes to
    /// `byteOutput` in chunks when one is given, and to `output` otherwise.
    static func run(
        _ command: Command, output: (String) -> Void,
        errorOutput: (String) -> Void = { writeStandardError($0 + "\n") },
        byteOutput: ((UnsafeRawBufferPointer) -> Void)? = nil
    ) -> Int32 {
        switch command {
        case .help:
            output(usage)
        case .version:
            output("ebpf (swift-ebpf) \(SwiftEBPF.version)")
        case .btfDump(let path, .c) where byteOutput != nil:
            do {
                let spec = try isELFFile(path) ? KernelBTF.loadELF(path: path) : BTFSpec(path: path)
                try spec.writeCHeader { chunk in byteOutput?(chunk) }
            } catch {
                errorOutput("ebpf: btf dump \(path): \(error)")
                return 1
            }
        case .btfDump(let path, let format):
            do {
                let text = try dumpBTF(path: path, format: format)
                // The printed text already ends in a newline; `output` adds one.
                output(text.hasSuffix("\n") ? String(text.dropLast()) : text)
            } catch {
                errorOutput("ebpf: btf dump \(path): \(error)")
                return 1
            }
        case .inspect(let path, let json):
            let spec: CollectionSpec
            do {
                spec = try CollectionSpec(elfFile: path)
            } catch {
                errorOutput("ebpf: \(path): \(error)")
                return 1
            }
            output(json ? Inspect.json(spec) : Inspect.text(spec))
        case .load(let path, let json, let tokenFileSystem, let pinPath):
            let spec: CollectionSpec
            do {
                spec = try CollectionSpec(elfFile: path)
            } catch {
                errorOutput("ebpf: \(path): \(error)")
                return 1
            }
            var options = CollectionOptions()
            options.tokenFileSystemPath = tokenFileSystem
            options.pinPath = pinPath
            let outcomes = Load.loadEach(spec, options: options)
            output(json ? Load.json(outcomes) : Load.text(outcomes))
            if json {
                for line in Load.pinLines(outcomes) { errorOutput("ebpf: \(line)") }
            }
            return outcomes.allSatisfy { $0.status == 0 } ? 0 : 1
        case .usdtList(let path, let json):
            do {
                let probes = try USDTProbe.probes(inBinaryAt: path)
                output(json ? USDTList.json(probes) : USDTList.text(probes))
            } catch {
                errorOutput("ebpf: usdt list: \(error)")
                return 1
            }
        case .objects(let command):
            return command.run(output: output, errorOutput: errorOutput)
        }
        return 0
    }

    /// The BTF of `path` printed in `format`. A file starting with the ELF magic is read as an
    /// object file (its `.BTF` section), anything else as a raw BTF blob.
    static func dumpBTF(path: String, format: BTFDumpFormat) throws(BTFError) -> String {
        let spec = try isELFFile(path) ? KernelBTF.loadELF(path: path) : BTFSpec(path: path)
        switch format {
        case .c: return try spec.cHeader()
        case .raw: return try spec.rawDump()
        }
    }

    static func isELFFile(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var magic: [UInt8] = [0, 0, 0, 0]
        let count = magic.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 4) }
        return count == 4 && magic == [0x7F, 0x45, 0x4C, 0x46]
    }

    static func main() {
        let words = Array(CommandLine.arguments.dropFirst())
        let command: Command
        do {
            command = try parse(words)
        } catch {
            writeStandardError("ebpf: \(error)\nRun 'ebpf --help' for usage.\n")
            exit(64)  // EX_USAGE
        }
        let status = run(
            command, output: { text in writeStandardOutput(text + "\n") },
            byteOutput: { bytes in writeStandardOutput(bytes) })
        exit(status)
    }

    /// Writes all of `bytes`, retrying short writes; stops at the first error (a closed pipe).
    static func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(STDOUT_FILENO, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Writes all of `text`, retrying short writes (a header of vmlinux is several megabytes).
    static func writeStandardOutput(_ text: String) {
        var text = text
        text.withUTF8 { buffer in writeStandardOutput(UnsafeRawBufferPointer(buffer)) }
    }

    static func writeStandardError(_ text: String) {
        var text = text
        text.withUTF8 { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
    }
}
