import EBPFCollection
import Glibc
import Synchronization

/// Attaching programs where their ELF section names say, as libbpf's skeletons do
/// (`skel__attach`): `SEC("tracepoint/syscalls/sys_enter_execve")` needs no Swift to say where it
/// goes.
///
/// What a section fully determines is attached:
///
/// | section | attached with |
/// |---|---|
/// | `tracepoint/GROUP/NAME`, `tp/GROUP/NAME` | ``Tracepoint`` |
/// | `raw_tracepoint/NAME`, `raw_tp/NAME` (and `.w`) | ``RawTracepoint`` |
/// | `tp_btf/`, `fentry/`, `fexit/`, `fmod_ret/`, `lsm/`, `freplace/` (and `.s`) | ``Tracing`` |
/// | `kprobe/SYMBOL[+OFFSET]`, `kretprobe/SYMBOL` | ``Kprobe`` |
/// | `ksyscall/NAME`, `kretsyscall/NAME` | ``Kprobe`` on the syscall's entry point for this architecture |
/// | `uprobe/PATH:SYMBOL[+OFFSET]`, `uretprobe/...` (and `.s`) | ``Uprobe``; a path without `/` is looked up in the library directories and `$PATH` |
/// | `iter/TARGET`, `iter.s/TARGET` | ``Iterator`` |
///
/// Every other program is skipped and listed in ``AttachedLinks/skipped`` with the reason: those
/// that need something the name cannot give (`xdp` an interface, `tc` and `tcx` an interface and
/// direction, `cgroup/*` a cgroup, `sockops` and `sk_*` a socket or map, ...), those whose
/// section has no target (`SEC("kprobe")`), and `usdt`, which this library does not attach by
/// section name.
public enum AutoAttach {
    /// Where a section name says a program goes.
    public enum Target: Sendable, Hashable {
        case tracepoint(group: String, name: String)
        case rawTracepoint(name: String)
        /// fentry, fexit, fmod_ret, tp_btf, LSM, freplace: the target was fixed at load.
        case tracing
        case kprobe(symbol: String, offset: UInt64, isReturnProbe: Bool)
        case syscall(name: String, isReturnProbe: Bool)
        /// `offset` is past `symbol`, or the file offset itself when `symbol` is nil.
        case uprobe(path: String, symbol: String?, offset: UInt64, isReturnProbe: Bool)
        case iterator
        /// Not attached by name; the reason says why.
        case skipped(reason: String)
    }

    /// What `sectionName` says, following libbpf's section names.
    public static func target(forSection sectionName: String) -> Target {
        let kind: Substring
        let rest: String?
        if let slash = sectionName.firstIndex(of: "/") {
            kind = sectionName[..<slash]
            rest = String(sectionName[sectionName.index(after: slash)...])
        } else {
            kind = sectionName[...]
            rest = nil
        }
        let needsTarget = "SEC(\"\(sectionName)\") names no attach target"
        switch kind {
        case "tracepoint", "tp":
            guard let rest, let slash = rest.firstIndex(of: "/"), slash != rest.startIndex,
                rest.index(after: slash) != rest.endIndex
            else { return .skipped(reason: needsTarget + " (expected \(kind)/GROUP/NAME)") }
            return .tracepoint(group: String(rest[..<slash]), name: String(rest[rest.index(after: slash)...]))
        case "raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            return .rawTracepoint(name: rest)
        case "tp_btf", "fentry", "fexit", "fmod_ret", "lsm", "freplace", "fentry.s", "fexit.s", "fmod_ret.s", "lsm.s":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            return .tracing
        case "kprobe", "kretprobe":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            guard let (symbol, offset) = splitOffset(rest), !symbol.isEmpty else {
                return .skipped(reason: "SEC(\"\(sectionName)\"): expected SYMBOL or SYMBOL+OFFSET")
            }
            if kind == "kretprobe" && offset != 0 {
                return .skipped(reason: "SEC(\"\(sectionName)\"): a kretprobe takes no offset")
            }
            return .kprobe(symbol: symbol, offset: offset, isReturnProbe: kind == "kretprobe")
        case "ksyscall", "kretsyscall":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            return .syscall(name: rest, isReturnProbe: kind == "kretsyscall")
        case "uprobe", "uretprobe", "uprobe.s", "uretprobe.s":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            guard let colon = rest.firstIndex(of: ":"), colon != rest.startIndex else {
                return .skipped(reason: "SEC(\"\(sectionName)\"): expected PATH:SYMBOL[+OFFSET]")
            }
            let path = String(rest[..<colon])
            let function = String(rest[rest.index(after: colon)...])
            let isReturn = kind.hasPrefix("uretprobe")
            if let fileOffset = parseNumber(function) {
                return .uprobe(path: path, symbol: nil, offset: fileOffset, isReturnProbe: isReturn)
            }
            guard let (symbol, offset) = splitOffset(function), !symbol.isEmpty else {
                return .skipped(reason: "SEC(\"\(sectionName)\"): expected PATH:SYMBOL[+OFFSET]")
            }
            return .uprobe(path: path, symbol: symbol, offset: offset, isReturnProbe: isReturn)
        case "iter", "iter.s":
            guard let rest, !rest.isEmpty else { return .skipped(reason: needsTarget) }
            return .iterator
        case "usdt":
            return .skipped(reason: "USDT probes are not attached by section name")
        default:
            return .skipped(
                reason: "SEC(\"\(sectionName)\") needs an attach point its name does not give (an interface, cgroup, socket, map or program)")
        }
    }

    /// Attaches each program by its ``Program/sectionName``, in the order given, and returns the
    /// links by program name with the programs it skipped. When one attachment fails, the links
    /// made so far are closed and the error is thrown.
    public static func attach(_ programs: [Program]) throws(LinkError) -> AttachedLinks {
        var links: [(name: String, link: any Link)] = []
        var skipped: [AttachedLinks.Skipped] = []
        for program in programs {
            guard let section = program.sectionName else {
                skipped.append(.init(program: program.name, section: "", reason: "the program has no section name"))
                continue
            }
            do {
                if let link = try attach(program, target: target(forSection: section), skipped: &skipped) {
                    links.append((program.name, link))
                }
            } catch {
                for (_, link) in links.reversed() { try? link.close() }
                throw error
            }
        }
        return AttachedLinks(links: links, skipped: skipped)
    }

    private static func attach(
        _ program: Program, target: Target, skipped: inout [AttachedLinks.Skipped]
    ) throws(LinkError) -> (any Link)? {
        switch target {
        case .tracepoint(let group, let name):
            return try Tracepoint(group: group, name: name, program: program)
        case .rawTracepoint(let name):
            return try RawTracepoint.attach(name: name, program: program)
        case .tracing:
            return try Tracing.attach(program: program)
        case .kprobe(let symbol, let offset, let isReturnProbe):
            var options = ProbeOptions()
            options.offset = offset
            return try Kprobe(symbol: symbol, program: program, isReturnProbe: isReturnProbe, options: options)
        case .syscall(let name, let isReturnProbe):
            return try attachSyscall(name, program: program, isReturnProbe: isReturnProbe)
        case .uprobe(let path, let symbol, let offset, let isReturnProbe):
            let executable = try Executable(path: resolveBinary(path))
            if let symbol {
                var options = ProbeOptions()
                options.offset = offset
                return try Uprobe(
                    executable: executable, symbol: symbol, program: program, isReturnProbe: isReturnProbe, options: options)
            }
            return try Uprobe(executable: executable, fileOffset: offset, program: program, isReturnProbe: isReturnProbe)
        case .iterator:
            return try Iterator(program: program)
        case .skipped(let reason):
            skipped.append(.init(program: program.name, section: program.sectionName ?? "", reason: reason))
            return nil
        }
    }

    /// The syscall's entry point for this architecture (`__x64_sys_NAME`, which kernels 4.17 and
    /// later have with `CONFIG_ARCH_HAS_SYSCALL_WRAPPER`), then the plain `sys_NAME` of older
    /// kernels, as libbpf's `ksyscall` does.
    static func attachSyscall(_ name: String, program: Program, isReturnProbe: Bool) throws(LinkError) -> Kprobe {
        if let prefix = Kprobe.syscallPrefix, prefix != "sys_" {
            do {
                return try Kprobe(symbol: prefix + "sys_" + name, program: program, isReturnProbe: isReturnProbe)
            } catch .kernelSymbolNotFound {
                // An older kernel, or an architecture without syscall wrappers.
            }
        }
        return try Kprobe(symbol: "sys_" + name, program: program, isReturnProbe: isReturnProbe)
    }

    /// `path` as it is when it has a `/`; otherwise the first match in the usual library
    /// directories, then on `$PATH`, as libbpf resolves `uprobe/libc.so.6:malloc`.
    static func resolveBinary(_ path: String) -> String {
        guard !path.contains("/") else { return path }
        var directories = [
            "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
            "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
        ]
        if let value = getenv("PATH") {
            directories += String(cString: value).split(separator: ":").map(String.init)
        }
        for directory in directories where access(directory + "/" + path, R_OK) == 0 {
            return directory + "/" + path
        }
        return path
    }

    /// `SYMBOL+OFFSET` (decimal or `0x` hex) or `SYMBOL`; nil for a malformed offset.
    static func splitOffset(_ text: String) -> (String, UInt64)? {
        guard let plus = text.lastIndex(of: "+") else { return (text, 0) }
        guard let offset = parseNumber(String(text[text.index(after: plus)...])) else { return nil }
        return (String(text[..<plus]), offset)
    }

    static func parseNumber(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text, radix: 10)
    }
}

/// The links ``AutoAttach/attach(_:)`` made, by program name, and the programs it skipped.
/// Closing it closes every link; dropping it does too (each link closes when released).
public final class AttachedLinks: Sendable {
    /// A program left unattached, and why.
    public struct Skipped: Sendable, Hashable, CustomStringConvertible {
        public var program: String
        public var section: String
        public var reason: String
        public var description: String { "\(program): \(reason)" }
    }

    /// The links in the order they were made, each with its program's name.
    public let links: [(name: String, link: any Link)]
    /// Programs that were not attached, in the order they were given.
    public let skipped: [Skipped]

    init(links: [(name: String, link: any Link)], skipped: [Skipped]) {
        self.links = links
        self.skipped = skipped
    }

    /// The link of program `name`; nil when it was skipped or is not in the object.
    public subscript(program name: String) -> (any Link)? {
        links.first(where: { $0.name == name })?.link
    }

    /// Whether every link is closed.
    public var isClosed: Bool { links.allSatisfy { $0.link.isClosed } }

    /// Closes every link (in the reverse order of attaching), throwing the first failure after
    /// trying them all. Closing twice does nothing.
    public func close() throws(LinkError) {
        var failure: LinkError?
        for (_, link) in links.reversed() {
            do { try link.close() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }
}

extension LoadedCollection {
    /// Attaches every program whose section name says where it goes (see ``AutoAttach``), in
    /// the order of their names; the others are listed in ``AttachedLinks/skipped``.
    ///
    /// ```swift
    /// let collection = try LoadedCollection(spec: spec)
    /// let links = try collection.attachAll()
    /// defer { try? links.close() }
    /// ```
    public func attachAll() throws(LinkError) -> AttachedLinks {
        try AutoAttach.attach(programs.keys.sorted().compactMap { programs[$0] })
    }
}
