import EBPFSys
import Glibc
import Synchronization

/// A kprobe or uprobe event written to tracefs (`kprobe_events`, `uprobe_events`).
///
/// The event is global to the system and outlives the process unless removed, so this value
/// removes it when it goes away; ``remove()`` does it explicitly and reports a failure. Close the
/// perf events opened on it first: the kernel refuses to remove an event in use (`EBUSY`).
struct TracefsProbeEvent: ~Copyable, Sendable {
    let tracefs: String
    let kind: ProbeKind
    let group: String
    let name: String
    /// The event's id (`events/<group>/<name>/id`), the `config` of a tracepoint perf event.
    private(set) var id: UInt64
    private var removed = false

    /// The group used when the caller names none.
    static let defaultGroupPrefix = "swiftebpf"

    /// The longest event or group name tracefs accepts (`MAX_EVENT_NAME_LEN` is 64 with the NUL).
    static let maximumNameLength = 63

    private static let counter = Atomic<UInt64>(0)

    /// Writes `definition` (what follows `p:group/name ` or `r:group/name `) as a new event
    /// whose name starts with `baseName`, reads its id, and returns it. Whatever was written is
    /// removed again if a later step fails.
    ///
    /// - Parameters:
    ///   - returnProbe: writes an `r` event instead of a `p` event; `maxActive` (kretprobes) goes
    ///     after the `r`.
    static func create(
        kind: ProbeKind, groupPrefix: String, baseName: String, definition: String,
        returnProbe: Bool, maxActive: Int = 0
    ) throws(LinkError) -> TracefsProbeEvent {
        try validateName(groupPrefix, what: "group prefix")
        let tracefs: String
        do { tracefs = try Tracefs.find() } catch { throw .tracefs(error) }
        let file = "\(tracefs)/\(kind.eventsFile)"
        guard access(file, F_OK) == 0 else {
            throw .notSupported(
                feature: "\(kind.rawValue) events in tracefs",
                requirement: kind == .kprobe ? "CONFIG_KPROBE_EVENTS" : "CONFIG_UPROBE_EVENTS",
                detail: "\(file) does not exist")
        }
        let group = String(groupPrefix.prefix(maximumNameLength))
        let sanitized = sanitize(baseName)
        var attempts = 0
        while true {
            let name = uniqueName(base: sanitized)
            let kindLetter = returnProbe ? (maxActive > 0 ? "r\(maxActive)" : "r") : "p"
            let line = "\(kindLetter):\(group)/\(name) \(definition)"
            do {
                try Tracefs.append(line: line, to: file)
            } catch let error {
                if case .tracefsWrite(_, _, let errno) = error, errno == .fileExists, attempts < 8 {
                    attempts += 1
                    continue
                }
                throw error
            }
            var event = TracefsProbeEvent(tracefs: tracefs, kind: kind, group: group, name: name, id: 0)
            do {
                event.id = try Tracefs.readEventID(at: "\(tracefs)/events/\(group)/\(name)/id")
            } catch {
                try? event.remove()
                throw error
            }
            return event
        }
    }

    private init(tracefs: String, kind: ProbeKind, group: String, name: String, id: UInt64) {
        self.tracefs = tracefs
        self.kind = kind
        self.group = group
        self.name = name
        self.id = id
    }

    /// Removes the event (`-:group/name`). Does nothing the second time.
    mutating func remove() throws(LinkError) {
        guard !removed else { return }
        removed = true
        try Tracefs.append(line: "-:\(group)/\(name)", to: "\(tracefs)/\(kind.eventsFile)")
    }

    deinit {
        if !removed {
            _ = try? Tracefs.append(line: "-:\(group)/\(name)", to: "\(tracefs)/\(kind.eventsFile)")
        }
    }

    /// A name no other event of this process has: the base, the process id and a counter.
    static func uniqueName(base: String) -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let suffix = "_\(String(getpid(), radix: 16))_\(String(number, radix: 16))"
        let room = max(maximumNameLength - suffix.utf8.count, 1)
        return String(base.prefix(room)) + suffix
    }

    /// `text` with every character outside `[A-Za-z0-9_]` turned into `_`, and a leading digit
    /// prefixed, since tracefs event names must be C identifiers.
    static func sanitize(_ text: String) -> String {
        var result = String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { isIdentifierCharacter($0) ? $0 : "_" }))
        if result.isEmpty { result = "probe" }
        if let first = result.unicodeScalars.first, ("0"..."9").contains(first) { result = "_" + result }
        return result
    }

    static func validateName(_ name: String, what: String) throws(LinkError) {
        guard !name.isEmpty else { throw .invalidName(name, reason: "\(what) is empty") }
        guard name.unicodeScalars.allSatisfy(isIdentifierCharacter) else {
            throw .invalidName(name, reason: "\(what) may only contain A-Z, a-z, 0-9 and _")
        }
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else {
            throw .invalidName(name, reason: "\(what) must not start with a digit")
        }
    }

    /// Refuses a kernel symbol that is not `[A-Za-z_][A-Za-z0-9_.]*` (cilium/ebpf's rule; `.`
    /// for compiler clones such as `foo.isra.0`). A tab, `\r`, `%` or `=` would change the meaning
    /// of the line written to `kprobe_events`, whose parser splits on any whitespace.
    static func validateKernelSymbol(_ symbol: String) throws(LinkError) {
        guard let first = symbol.unicodeScalars.first, first != ".", !("0"..."9").contains(first),
            symbol.unicodeScalars.allSatisfy({ isIdentifierCharacter($0) || $0 == "." })
        else {
            throw .invalidName(symbol, reason: "a kernel symbol is [A-Za-z_][A-Za-z0-9_.]*")
        }
    }

    /// Refuses a path that `uprobe_events` would misread: its parser splits the line at any
    /// whitespace (argv_split), and control characters and a leading `-` or empty path have no
    /// safe meaning there. A `:` is fine: the kernel takes the offset after the last one.
    static func validateProbePath(_ path: String) throws(LinkError) {
        guard !path.isEmpty, path.unicodeScalars.first != "-",
            !path.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw .invalidName(path, reason: "tracefs uprobe_events cannot take a path with whitespace or control characters")
        }
    }

    private static func isIdentifierCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }
}

extension Tracefs {
    /// Appends one line to a tracefs control file such as `kprobe_events`, in one `write`.
    static func append(line: String, to file: String) throws(LinkError) {
        if case .failure(let error) = SystemCalls.appendLine(line, toFile: file) {
            throw .tracefsWrite(file: file, line: line, errno: error)
        }
    }

    /// Reads a decimal event id from an `events/.../id` file.
    static func readEventID(at path: String) throws(LinkError) -> UInt64 {
        guard let text = readText(path) else {
            throw .tracefsRead(file: path, errno: Errno(rawValue: errno))
        }
        guard let id = UInt64(text.trimmingCharacters()) else {
            throw .tracefsRead(file: path, errno: .invalidArgument)
        }
        return id
    }

    /// The id of the tracepoint `group:name` (`events/<group>/<name>/id`).
    public static func tracepointID(group: String, name: String) throws(LinkError) -> UInt64 {
        for part in [group, name] {
            guard !part.isEmpty, !part.contains("/"), part != ".", part != ".." else {
                throw .invalidName(part, reason: "tracepoint group and name must be non-empty and contain no '/'")
            }
        }
        let tracefs: String
        do { tracefs = try find() } catch { throw .tracefs(error) }
        let path = "\(tracefs)/events/\(group)/\(name)/id"
        guard access(path, F_OK) == 0 else { throw .tracepointNotFound(group: group, name: name) }
        return try readEventID(at: path)
    }

    /// The lines of `kprobe_events` or `uprobe_events` (the events defined now), for checking
    /// that nothing stale is left behind.
    public static func probeEvents(_ kind: ProbeKind) throws(LinkError) -> [String] {
        let tracefs: String
        do { tracefs = try find() } catch { throw .tracefs(error) }
        let path = "\(tracefs)/\(kind.eventsFile)"
        guard let text = readText(path) else { throw .tracefsRead(file: path, errno: Errno(rawValue: errno)) }
        return text.split(separator: "\n").map(String.init)
    }
}
