import EBPFCollection
import EBPFSys
import Glibc

/// kprobe.multi and kprobe.session links: one `BPF_PROG_TYPE_KPROBE` program on many kernel
/// functions at once through fprobe, with a cookie per function. Requires Linux 5.18 (6.10 for
/// sessions) built with `CONFIG_FPROBE`.
///
/// The program must be loaded with the attach type ``AttachType/traceKprobeMulti`` (or
/// ``AttachType/traceKprobeSession`` for a session).
public enum KprobeMulti {
    /// What the link runs on: function entry, return, or both in one session.
    public enum Mode: Sendable {
        case entry
        /// `BPF_F_KPROBE_MULTI_RETURN`.
        case `return`
        /// `BPF_TRACE_KPROBE_SESSION`: the program runs at entry and, unless the entry run returns
        /// non-zero, again at return.
        case session
    }

    /// Attaches `program` to every function in `symbols` (`cookies`, if given, one per symbol).
    ///
    /// ```swift
    /// let link = try KprobeMulti.attach(symbols: ["vfs_read", "vfs_write"], program: program, cookies: [1, 2])
    /// ```
    public static func attach(
        symbols: [String], program: Program, mode: Mode = .entry, cookies: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        try attach(targets: .symbols(symbols), program: program, mode: mode, cookies: cookies)
    }

    /// Attaches `program` to the kernel functions at `addresses` (as `/proc/kallsyms` lists them,
    /// which needs `CAP_SYSLOG` to show them), `cookies`, if given, one per address.
    public static func attach(
        addresses: [UInt64], program: Program, mode: Mode = .entry, cookies: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        try attach(targets: .addresses(addresses), program: program, mode: mode, cookies: cookies)
    }

    /// Attaches `program` to every traceable kernel function whose name matches the shell
    /// `pattern` (`vfs_*`, `__x64_sys_getp?id`), as listed in tracefs's
    /// `available_filter_functions`; the kernel itself takes only names or addresses. Throws
    /// ``LinkError/kernelSymbolNotFound(symbol:tried:)`` when nothing matches.
    public static func attach(pattern: String, program: Program, mode: Mode = .entry) throws(LinkError) -> RawLink {
        let symbols = try matchingFunctions(pattern)
        guard !symbols.isEmpty else { throw .kernelSymbolNotFound(symbol: pattern, tried: [pattern]) }
        return try attach(targets: .symbols(symbols), program: program, mode: mode, cookies: [])
    }

    /// The traceable kernel functions whose names match the shell `pattern`, each once, sorted.
    /// Module functions are listed as `name [module]`; the name alone is matched.
    public static func matchingFunctions(_ pattern: String) throws(LinkError) -> [String] {
        let tracefs: String
        do { tracefs = try Tracefs.find() } catch { throw .tracefs(error) }
        let path = "\(tracefs)/available_filter_functions"
        guard let text = Tracefs.readText(path) else {
            throw .tracefsRead(file: path, errno: Errno(rawValue: errno))
        }
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            guard let name = line.split(separator: " ", maxSplits: 1).first else { continue }
            let candidate = String(name)
            if fnmatch(pattern, candidate, 0) == 0 { names.insert(candidate) }
        }
        return names.sorted()
    }

    enum Targets {
        case symbols([String])
        case addresses([UInt64])

        var count: Int {
            switch self {
            case .symbols(let symbols): symbols.count
            case .addresses(let addresses): addresses.count
            }
        }

        var names: [String] {
            switch self {
            case .symbols(let symbols): symbols
            case .addresses(let addresses): addresses.map { "0x" + String($0, radix: 16) }
            }
        }
    }

    static func attach(
        targets: Targets, program: Program, mode: Mode, cookies: [UInt64]
    ) throws(LinkError) -> RawLink {
        let feature = mode == .session ? "kprobe.session" : "kprobe.multi"
        let hook = "\(feature) on \(targets.count) function(s)"
        guard targets.count > 0 else { throw .invalidOption("\(feature) needs at least one function") }
        guard cookies.isEmpty || cookies.count == targets.count, let count = UInt32(exactly: targets.count) else {
            throw .invalidOption("\(cookies.count) cookies for \(targets.count) functions")
        }
        return try Features.withProgram(program, [.kprobe], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            let names: [CStringPointer]
            var addresses: [UInt64]
            switch targets {
            case .symbols(let symbols):
                names = symbols.map { CStringPointer($0) }
                addresses = names.map { $0.address }
            case .addresses(let values):
                names = []
                addresses = values
            }
            var cookieValues = cookies
            var attributes = LinkCreateKprobeMultiAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = (mode == .session ? AttachType.traceKprobeSession : .traceKprobeMulti).rawValue
            attributes.kprobeMultiFlags = mode == .return ? 1 : 0  // BPF_F_KPROBE_MULTI_RETURN
            attributes.count = count
            let result = addresses.withUnsafeMutableBytes { targetBytes in
                cookieValues.withUnsafeMutableBytes { cookieBytes in
                    // `syms` is an array of string pointers, `addrs` one of addresses.
                    if names.isEmpty {
                        attributes.addrs = Sys.address(of: targetBytes.baseAddress)
                    } else {
                        attributes.syms = Sys.address(of: targetBytes.baseAddress)
                    }
                    attributes.cookies = cookies.isEmpty ? 0 : Sys.address(of: cookieBytes.baseAddress)
                    return Result { () throws(BPFSyscallError) in try Sys.linkCreate(attributes).relinquish() }
                }
            }
            withExtendedLifetime(names) {}
            switch result {
            case .success(let raw):
                do throws(Errno) { return RawLink(adopting: try FileDescriptor(adopting: raw)) } catch {
                    throw .system(operation: "adopt \(feature) link", errno: error)
                }
            case .failure(let error):
                throw multiLinkError(error, feature: feature, requirement: "CONFIG_FPROBE (Linux 5.18; sessions 6.10)",
                    symbols: targets.names, hook: hook)
            }
        }
    }
}

/// uprobe.multi links: one `BPF_PROG_TYPE_KPROBE` program on many offsets of one file at once
/// (Linux 6.6, `CONFIG_UPROBES`). The program must be loaded with the attach type
/// ``AttachType/traceUprobeMulti``.
public enum UprobeMulti {
    /// Attaches `program` to each function in `symbols` of `executable`; `pid` limits it to one
    /// process, `cookies` (one per symbol) are what `bpf_get_attach_cookie` returns.
    ///
    /// ```swift
    /// let libc = try Executable(path: "/lib/x86_64-linux-gnu/libc.so.6")
    /// let link = try UprobeMulti.attach(executable: libc, symbols: ["malloc", "free"], program: program)
    /// ```
    public static func attach(
        executable: Executable, symbols: [String], program: Program, isReturnProbe: Bool = false,
        pid: Int32? = nil, cookies: [UInt64] = [], referenceCounterOffsets: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        guard !symbols.isEmpty else { throw .invalidOption("uprobe.multi needs at least one symbol") }
        var offsets: [UInt64] = []
        for symbol in symbols { offsets.append(try executable.offset(of: symbol)) }
        return try attach(
            path: executable.path, offsets: offsets, names: symbols, program: program, isReturnProbe: isReturnProbe,
            pid: pid, cookies: cookies, referenceCounterOffsets: referenceCounterOffsets)
    }

    /// Attaches `program` at file `offsets` of `executable` (what ``Executable/offset(of:)``
    /// gives for a symbol), `cookies` one per offset.
    public static func attach(
        executable: Executable, offsets: [UInt64], program: Program, isReturnProbe: Bool = false,
        pid: Int32? = nil, cookies: [UInt64] = [], referenceCounterOffsets: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        try attach(
            path: executable.path, offsets: offsets, names: offsets.map { "+0x" + String($0, radix: 16) },
            program: program, isReturnProbe: isReturnProbe, pid: pid, cookies: cookies,
            referenceCounterOffsets: referenceCounterOffsets)
    }

    /// Attaches `program` at the virtual `addresses` of `executable` as its symbol table states
    /// them (``Executable/address(of:)``), translated to file offsets through the `PT_LOAD`
    /// segments; an address outside them is an error naming it.
    public static func attach(
        executable: Executable, addresses: [UInt64], program: Program, isReturnProbe: Bool = false,
        pid: Int32? = nil, cookies: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        var offsets: [UInt64] = []
        for address in addresses {
            guard let offset = Executable.fileOffset(ofAddress: address, in: executable.segments) else {
                throw .symbolNotInLoadableSegment(
                    symbol: "0x" + String(address, radix: 16), path: executable.path, address: address)
            }
            offsets.append(offset)
        }
        return try attach(
            path: executable.path, offsets: offsets, names: addresses.map { "0x" + String($0, radix: 16) },
            program: program, isReturnProbe: isReturnProbe, pid: pid, cookies: cookies, referenceCounterOffsets: [])
    }

    static func attach(
        path executablePath: String, offsets: [UInt64], names: [String], program: Program, isReturnProbe: Bool,
        pid: Int32?, cookies: [UInt64], referenceCounterOffsets: [UInt64]
    ) throws(LinkError) -> RawLink {
        let hook = "uprobe.multi on \(executablePath) (\(offsets.count) location(s))"
        guard !offsets.isEmpty, let count = UInt32(exactly: offsets.count) else {
            throw .invalidOption("uprobe.multi needs at least one location")
        }
        guard cookies.isEmpty || cookies.count == offsets.count,
            referenceCounterOffsets.isEmpty || referenceCounterOffsets.count == offsets.count
        else { throw .invalidOption("cookies and reference counter offsets need one entry per location") }
        if let pid, pid <= 0 { throw .invalidOption("pid \(pid) is not a process id") }
        var offsets = offsets
        return try Features.withProgram(program, [.kprobe], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            let path = CStringPointer(executablePath)
            var cookieValues = cookies
            var referenceCounters = referenceCounterOffsets
            var attributes = LinkCreateUprobeMultiAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = AttachType.traceUprobeMulti.rawValue
            attributes.uprobeMultiFlags = isReturnProbe ? 1 : 0  // BPF_F_UPROBE_MULTI_RETURN
            attributes.count = count
            attributes.pid = UInt32(bitPattern: pid ?? 0)
            attributes.path = path.address
            let result = offsets.withUnsafeMutableBytes { offsetBytes in
                cookieValues.withUnsafeMutableBytes { cookieBytes in
                    referenceCounters.withUnsafeMutableBytes { counterBytes in
                        attributes.offsets = Sys.address(of: offsetBytes.baseAddress)
                        attributes.cookies = cookies.isEmpty ? 0 : Sys.address(of: cookieBytes.baseAddress)
                        attributes.refCtrOffsets =
                            referenceCounterOffsets.isEmpty ? 0 : Sys.address(of: counterBytes.baseAddress)
                        return Result { () throws(BPFSyscallError) in try Sys.linkCreate(attributes).relinquish() }
                    }
                }
            }
            withExtendedLifetime(path) {}
            switch result {
            case .success(let raw):
                do throws(Errno) { return RawLink(adopting: try FileDescriptor(adopting: raw)) } catch {
                    throw .system(operation: "adopt uprobe.multi link", errno: error)
                }
            case .failure(let error):
                throw multiLinkError(error, feature: "uprobe.multi", requirement: "Linux 6.6 with CONFIG_UPROBES",
                    symbols: names, hook: hook)
            }
        }
    }
}

/// The error for a failed multi-probe `BPF_LINK_CREATE`: `EOPNOTSUPP`/`ENOTSUPP` mean the kernel
/// was built without the feature, `EINVAL` that it predates the attach type (the program and
/// arguments were checked before), `ENOENT` or `ESRCH` (kprobes) that a symbol is missing.
func multiLinkError(
    _ error: BPFSyscallError, feature: String, requirement: String, symbols: [String], hook: String
) -> LinkError {
    switch error.errno {
    case .notSupported, .kernelNotSupported:
        return .notSupported(
            feature: feature, requirement: requirement,
            detail: "BPF_LINK_CREATE returned \(error.errno): the kernel was built without it")
    case .invalidArgument:
        return .notSupported(
            feature: feature, requirement: requirement,
            detail: "BPF_LINK_CREATE returned EINVAL: the kernel does not know this attach type")
    // kprobe.multi resolves names through kallsyms: Debian's 6.12 answers a name it cannot find
    // with ESRCH (ftrace_lookup_symbols), ENOENT elsewhere.
    case .noSuchFileOrDirectory where feature.hasPrefix("kprobe"), .noSuchProcess where feature.hasPrefix("kprobe"):
        return .kernelSymbolNotFound(symbol: symbols.joined(separator: ", "), tried: symbols)
    default:
        return .syscall(operation: "attach \(hook)", error: error)
    }
}

/// A heap copy of a C string that a Swift class owns, so an array of them can hand out stable
/// addresses (`CStringCopy` is noncopyable and cannot live in an array).
final class CStringPointer {
    private let storage: UnsafeMutableRawBufferPointer

    init(_ text: String) {
        let bytes = Array(text.utf8) + [0]
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyBytes(from: bytes)
    }

    var address: UInt64 { Sys.address(of: storage.baseAddress) }

    deinit { storage.deallocate() }
}
