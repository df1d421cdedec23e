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
    public static func attach(
        symbols: [String], program: Program, mode: Mode = .entry, cookies: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        let feature = mode == .session ? "kprobe.session" : "kprobe.multi"
        let hook = "\(feature) on \(symbols.count) function(s)"
        guard !symbols.isEmpty else { throw .invalidOption("\(feature) needs at least one symbol") }
        guard cookies.isEmpty || cookies.count == symbols.count, let count = UInt32(exactly: symbols.count) else {
            throw .invalidOption("\(cookies.count) cookies for \(symbols.count) symbols")
        }
        return try Features.withProgram(program, [.kprobe], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            let names = symbols.map { CStringPointer($0) }
            var pointers = names.map { $0.address }
            var cookieValues = cookies
            var attributes = LinkCreateKprobeMultiAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = (mode == .session ? AttachType.traceKprobeSession : .traceKprobeMulti).rawValue
            attributes.kprobeMultiFlags = mode == .return ? 1 : 0  // BPF_F_KPROBE_MULTI_RETURN
            attributes.count = count
            let result = pointers.withUnsafeMutableBytes { symbolBytes in
                cookieValues.withUnsafeMutableBytes { cookieBytes in
                    attributes.syms = Sys.address(of: symbolBytes.baseAddress)
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
                    symbols: symbols, hook: hook)
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
    public static func attach(
        executable: Executable, symbols: [String], program: Program, isReturnProbe: Bool = false,
        pid: Int32? = nil, cookies: [UInt64] = [], referenceCounterOffsets: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        guard !symbols.isEmpty else { throw .invalidOption("uprobe.multi needs at least one symbol") }
        var offsets: [UInt64] = []
        for symbol in symbols { offsets.append(try executable.offset(of: symbol)) }
        return try attach(
            path: executable.path, offsets: offsets, program: program, isReturnProbe: isReturnProbe, pid: pid,
            cookies: cookies, referenceCounterOffsets: referenceCounterOffsets,
            what: "\(symbols.count) function(s)")
    }

    /// Attaches `program` at each file offset in `offsets` of the file at `path` (an absolute
    /// path); `referenceCounterOffsets` (one per offset, or none) are USDT semaphores the kernel
    /// increments while the link exists.
    public static func attach(
        path: String, offsets: [UInt64], program: Program, isReturnProbe: Bool = false,
        pid: Int32? = nil, cookies: [UInt64] = [], referenceCounterOffsets: [UInt64] = []
    ) throws(LinkError) -> RawLink {
        try attach(
            path: path, offsets: offsets, program: program, isReturnProbe: isReturnProbe, pid: pid, cookies: cookies,
            referenceCounterOffsets: referenceCounterOffsets, what: "\(offsets.count) offset(s)")
    }

    private static func attach(
        path executablePath: String, offsets: [UInt64], program: Program, isReturnProbe: Bool,
        pid: Int32?, cookies: [UInt64], referenceCounterOffsets: [UInt64], what: String
    ) throws(LinkError) -> RawLink {
        let hook = "uprobe.multi on \(executablePath) (\(what))"
        guard !offsets.isEmpty, let count = UInt32(exactly: offsets.count) else {
            throw .invalidOption("uprobe.multi needs at least one offset")
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
                    symbols: [], hook: hook)
            }
        }
    }
}

/// The error for a failed multi-probe `BPF_LINK_CREATE`: `EOPNOTSUPP`/`ENOTSUPP` mean the kernel
/// was built without the feature, `EINVAL` that it predates the attach type (the program and
/// arguments were checked before), `ENOENT` (kprobes) that a symbol is missing.
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
    case .noSuchFileOrDirectory where feature.hasPrefix("kprobe"):
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
