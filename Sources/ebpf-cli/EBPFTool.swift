import EBPF
import Glibc

/// What one invocation of `ebpf` asks for.
enum Command: Equatable {
    case help
    case version
    /// Print the spec read from an object file, as text or as JSON.
    case inspect(path: String, json: Bool)
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
          inspect OBJ   Print the programs, maps and variables of a BPF object file.
                        --json prints them as JSON.

        OPTIONS:
          -h, --help    Show this help.
        """

    /// Parses the words after the program name into a command.
    static func parse(_ words: [String]) throws(UsageError) -> Command {
        let arguments = try Arguments(words, flagOptions: ["json"])
        if arguments.flags.contains("help") { return .help }
        guard let name = arguments.positionals.first else { return .help }
        let rest = arguments.positionals.dropFirst()
        switch name {
        case "help":
            return .help
        case "version":
            if let extra = rest.first { throw .unexpectedArgument(extra) }
            if arguments.flags.contains("json") { throw .unknownOption("--json") }
            return .version
        case "inspect":
            guard let path = rest.first else { throw .missingArgument("OBJ") }
            if let extra = rest.dropFirst().first { throw .unexpectedArgument(extra) }
            return .inspect(path: path, json: arguments.flags.contains("json"))
        default:
            throw .unknownCommand(name)
        }
    }

    /// Runs a command, writing its output to `output`; returns the process exit status.
    static func run(_ command: Command, output: (String) -> Void, errorOutput: (String) -> Void = { writeStandardError($0 + "\n") }) -> Int32 {
        switch command {
        case .help:
            output(usage)
        case .version:
            output("ebpf (swift-ebpf) \(SwiftEBPF.version)")
        case .inspect(let path, let json):
            let spec: CollectionSpec
            do {
                spec = try CollectionSpec(elfFile: path)
            } catch {
                errorOutput("ebpf: \(path): \(error)")
                return 1
            }
            output(json ? Inspect.json(spec) : Inspect.text(spec))
        }
        return 0
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
        exit(run(command) { print($0) })
    }

    static func writeStandardError(_ text: String) {
        var text = text
        text.withUTF8 { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
    }
}
