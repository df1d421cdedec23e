import EBPF
import Glibc

/// `ebpf prog|map|link|btf|pin ...`: what is loaded in the kernel, in bpftool's verbs and JSON
/// shapes.
enum ObjectCommand: Equatable {
    case programList(id: UInt32?, json: Bool)
    case programDumpTranslated(id: UInt32, source: Bool, json: Bool)
    case programDumpJITed(id: UInt32, json: Bool)
    case mapList(id: UInt32?, json: Bool)
    case mapDump(id: UInt32, json: Bool)
    case linkList(id: UInt32?, json: Bool)
    case btfList(json: Bool)
    case pinList(directory: String, json: Bool)

    static let usage = """
          prog list|show [[id] ID] [--json]
                        The loaded programs (bpftool prog list); one with an ID.
          prog dump xlated [id] ID [--source] [--json]
                        The program's instructions after verification; --source adds the
                        source lines of its BTF line info.
          prog dump jited [id] ID [--json]
                        The JIT-compiled machine code per function, as hexadecimal bytes.
          map list|show [[id] ID] [--json]
                        The maps in the kernel (bpftool map list); one with an ID.
          map dump [id] ID [--json]
                        The map's elements, decoded through its BTF (per CPU for per-CPU maps,
                        inner map IDs for maps of maps); bytes for maps without BTF.
          link list|show [[id] ID] [--json]
                        The links in the kernel with what each is attached to.
          btf list [--json]
                        The BTF objects in the kernel, with the programs and maps using them.
          pin list DIR [--json]
                        The programs, maps and links pinned below DIR on a BPF file system.
        These need CAP_SYS_ADMIN; objects the caller may not open are skipped with a note on
        standard error.
        """

    /// Whether `words` (without the program name) are for this command family.
    static func handles(_ words: [String]) -> Bool {
        guard let first = words.first else { return false }
        switch first {
        case "prog", "map", "link", "pin": return true
        case "btf": return words.dropFirst().first == "list"
        default: return false
        }
    }

    static func parse(_ words: [String]) throws(UsageError) -> ObjectCommand {
        let arguments = try Arguments(words, flagOptions: ["json", "source"])
        let json = arguments.flags.contains("json")
        if arguments.flags.contains("source"), !(words.count > 2 && words[1] == "dump" && words[2] == "xlated") {
            throw .unknownOption("--source")
        }
        var operands = ArraySlice(arguments.positionals)
        let family = operands.popFirst() ?? ""
        guard let verb = operands.popFirst() else { throw .missingArgument("\(family) subcommand") }
        func optionalID() throws(UsageError) -> UInt32? {
            if operands.first == "id" { operands.removeFirst() }
            guard let text = operands.popFirst() else { return nil }
            guard let id = UInt32(text) else { throw .invalidValue(option: "id", value: text) }
            if let extra = operands.first { throw .unexpectedArgument(extra) }
            return id
        }
        func requiredID() throws(UsageError) -> UInt32 {
            guard let id = try optionalID() else { throw .missingArgument("ID") }
            return id
        }
        switch (family, verb) {
        case ("prog", "list"), ("prog", "show"):
            return .programList(id: try optionalID(), json: json)
        case ("prog", "dump"):
            switch operands.popFirst() {
            case "xlated":
                return .programDumpTranslated(id: try requiredID(), source: arguments.flags.contains("source"), json: json)
            case "jited":
                return .programDumpJITed(id: try requiredID(), json: json)
            case let other:
                throw other.map { .unknownCommand("prog dump " + $0) } ?? .missingArgument("xlated or jited")
            }
        case ("map", "list"), ("map", "show"):
            return .mapList(id: try optionalID(), json: json)
        case ("map", "dump"):
            return .mapDump(id: try requiredID(), json: json)
        case ("link", "list"), ("link", "show"):
            return .linkList(id: try optionalID(), json: json)
        case ("btf", "list"):
            if let extra = operands.first { throw .unexpectedArgument(extra) }
            return .btfList(json: json)
        case ("pin", "list"):
            guard let directory = operands.popFirst() else { throw .missingArgument("DIR") }
            if let extra = operands.first { throw .unexpectedArgument(extra) }
            return .pinList(directory: directory, json: json)
        default:
            throw .unknownCommand(family + " " + verb)
        }
    }

    /// Runs the command; returns the exit status (1 when a named object could not be read).
    func run(output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        switch self {
        case .programList(let id, let json):
            return ProgramVerbs.list(id: id, json: json, output: output, errorOutput: errorOutput)
        case .programDumpTranslated(let id, let source, let json):
            return ProgramVerbs.dumpTranslated(id: id, source: source, json: json, output: output, errorOutput: errorOutput)
        case .programDumpJITed(let id, let json):
            return ProgramVerbs.dumpJITed(id: id, json: json, output: output, errorOutput: errorOutput)
        case .mapList(let id, let json):
            return MapVerbs.list(id: id, json: json, output: output, errorOutput: errorOutput)
        case .mapDump(let id, let json):
            return MapVerbs.dump(id: id, json: json, output: output, errorOutput: errorOutput)
        case .linkList(let id, let json):
            return LinkVerbs.list(id: id, json: json, output: output, errorOutput: errorOutput)
        case .btfList(let json):
            return LinkVerbs.listBTF(json: json, output: output, errorOutput: errorOutput)
        case .pinList(let directory, let json):
            return LinkVerbs.listPins(directory: directory, json: json, output: output, errorOutput: errorOutput)
        }
    }

    /// What reading one object by ID gave: its fields, or why there are none.
    enum Description {
        case fields([(String, JSONText)])
        /// The object is gone (ENOENT): unloaded since the walk listed it.
        case vanished(String)
        case failed(String)
    }

    /// `list` and `show` for programs, maps and links: the object `id` names, or every object of
    /// `kind`, as bpftool prints them (`--json`: an array for list, one object for show). An object
    /// that vanished mid-walk is skipped silently; other failures are noted on standard error and,
    /// for a named ID, make the exit status 1.
    static func list(
        _ kind: BPFObjectKind, noun: String, id: UInt32?, json: Bool, text: ([(String, JSONText)]) -> String,
        output: (String) -> Void, errorOutput: (String) -> Void, describe: (UInt32) -> Description
    ) -> Int32 {
        var entries: [[(String, JSONText)]] = []
        var status: Int32 = 0
        func visit(_ id: UInt32, named: Bool) {
            switch describe(id) {
            case .fields(let fields):
                entries.append(fields)
            case .vanished where !named:
                return
            case .vanished(let reason), .failed(let reason):
                errorOutput("ebpf: \(noun) \(id): \(reason)")
                if named { status = 1 }
            }
        }
        if let id {
            visit(id, named: true)
        } else if !walk(kind, errorOutput: errorOutput, { visit($0, named: false) }) {
            return 1
        }
        if json {
            let values = entries.map { JSONText.object($0) }
            output(id == nil ? JSONText.array(values).rendered : (values.first?.rendered ?? "null"))
        } else if !entries.isEmpty {
            output(entries.map(text).joined(separator: "\n"))
        }
        return status
    }

    /// Walks the IDs of `kind`, calling `visit` for each; IDs whose object vanished since the
    /// listing (ENOENT) are skipped silently, others with a note. nil when listing itself failed.
    static func walk(
        _ kind: BPFObjectKind, errorOutput: (String) -> Void, _ visit: (UInt32) -> Void
    ) -> Bool {
        var current: UInt32 = 0
        while true {
            let next: UInt32?
            do {
                next = try Sys.nextID(of: kind, after: current)
            } catch {
                errorOutput("ebpf: cannot list \(kind) IDs: \(error)")
                return false
            }
            guard let next else { return true }
            current = next
            visit(next)
        }
    }

    /// Wall-clock seconds since the epoch of a time in nanoseconds since boot, as bpftool prints
    /// `loaded_at`.
    static func wallClockSeconds(bootNanoseconds: UInt64) -> Int64 {
        var realtime = timespec(), boottime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        clock_gettime(CLOCK_BOOTTIME, &boottime)
        let bootSeconds = Int64(boottime.tv_sec) - Int64(truncatingIfNeeded: bootNanoseconds / 1_000_000_000)
        return Int64(realtime.tv_sec) - bootSeconds
    }

    static func hex(_ bytes: some Sequence<UInt8>, separator: String = " ") -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: separator)
    }
}
