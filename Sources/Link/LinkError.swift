import EBPFCollection
import EBPFELFFile
import EBPFNetlink
import EBPFSys

/// Why attaching, detaching or querying a link failed.
///
/// Each case names what it was about (the symbol, file, tracefs file or interface), so the message
/// says what to fix without the caller adding context.
public enum LinkError: Error, Sendable, CustomStringConvertible {
    /// The running kernel lacks what the attach needs. `feature` names it ("kprobes"),
    /// `requirement` the config option or kernel version that brings it ("CONFIG_KPROBES"), and
    /// `detail` what the probe found.
    case notSupported(feature: String, requirement: String, detail: String)
    /// The kernel has no function `symbol` to probe (also after trying the arch-specific syscall
    /// prefix, listed in `tried`).
    case kernelSymbolNotFound(symbol: String, tried: [String])
    /// The binary at `path` defines no function `symbol` (searched `.symtab` and `.dynsym`).
    case binarySymbolNotFound(symbol: String, path: String)
    /// The symbol's address lies in no loadable segment of the binary, so it has no file offset.
    case symbolNotInLoadableSegment(symbol: String, path: String, address: UInt64)
    /// The binary at `path` could not be read or parsed.
    case unreadableBinary(path: String, error: ELFError)
    /// No tracepoint `group:name` exists in tracefs.
    case tracepointNotFound(group: String, name: String)
    /// A name that tracefs would reject or misparse (an empty one, or one with characters outside
    /// `[A-Za-z0-9_]` where only those are allowed).
    case invalidName(String, reason: String)
    /// An option out of range, such as a kretprobe `maxactive` on an entry probe.
    case invalidOption(String)
    /// Tracefs is missing or refused a write or read. `file` is the tracefs file, `line` what was
    /// written (empty for reads).
    case tracefs(TracefsError)
    case tracefsWrite(file: String, line: String, errno: Errno)
    case tracefsRead(file: String, errno: Errno)
    /// `perf_event_open(2)` failed for `event` (a description such as "kprobe PMU for do_sys_open").
    case perfEventOpen(event: String, errno: Errno)
    /// An `ioctl(2)` on a perf event failed (`PERF_EVENT_IOC_SET_BPF`, `PERF_EVENT_IOC_ENABLE`).
    case perfEventIOCTL(request: String, errno: Errno)
    /// A bpf(2) command failed while `operation` ran ("attach kprobe do_sys_open").
    case syscall(operation: String, error: BPFSyscallError)
    /// A system call other than bpf(2) failed (`socket`, `setsockopt`, `open` of a cgroup...).
    case system(operation: String, errno: Errno)
    /// The program's type does not fit the hook.
    case wrongProgramType(hook: String, expected: [ProgramType], actual: ProgramType)
    /// Something else holds the attach point `hook` in a way that excludes this attachment.
    case attachPointBusy(hook: String, detail: String)
    /// No network interface has this name (or index, written as `index N`).
    case interfaceNotFound(String)
    /// A netlink request (tc, XDP or device) failed; the error carries the errno and the
    /// kernel's extended-ack text.
    case netlink(NetlinkError)
    /// The link was closed already.
    case closed
    /// The program was closed before it could be attached.
    case programClosed(program: String, hook: String)
    /// struct_ops map `map` has no ``MapFlags/link`` and holds no value prepared by a collection
    /// load: such a map registers by having its value written, which only the load of its object
    /// can put together (it was opened by id or from a pin, or given as a replacement).
    case structOpsValueNotPrepared(map: String)
    /// Reading or attaching a USDT probe failed for a reason of its own (a missing probe, a
    /// malformed note, an argument the spec cannot express, spec maps of the wrong shape).
    case usdt(USDTError)

    public var description: String {
        switch self {
        case .notSupported(let feature, let requirement, let detail):
            "\(feature) not supported by this kernel (needs \(requirement)): \(detail)"
        case .kernelSymbolNotFound(let symbol, let tried):
            "kernel symbol \(symbol) not found (tried \(tried.joined(separator: ", ")))"
        case .binarySymbolNotFound(let symbol, let path):
            "symbol \(symbol) not found in \(path) (.symtab and .dynsym)"
        case .symbolNotInLoadableSegment(let symbol, let path, let address):
            "symbol \(symbol) in \(path) at 0x\(String(address, radix: 16)) lies in no PT_LOAD segment"
        case .unreadableBinary(let path, let error):
            "cannot read \(path): \(error)"
        case .tracepointNotFound(let group, let name):
            "tracepoint \(group):\(name) not found in tracefs events"
        case .invalidName(let name, let reason):
            "invalid name '\(name)': \(reason)"
        case .invalidOption(let text):
            "invalid option: \(text)"
        case .tracefs(let error):
            error.description
        case .tracefsWrite(let file, let line, let errno):
            "writing '\(line)' to \(file): \(errno)"
        case .tracefsRead(let file, let errno):
            "reading \(file): \(errno)"
        case .perfEventOpen(let event, let errno):
            "perf_event_open for \(event): \(errno)"
        case .perfEventIOCTL(let request, let errno):
            "ioctl \(request): \(errno)"
        case .syscall(let operation, let error):
            "\(operation): \(error)"
        case .system(let operation, let errno):
            "\(operation): \(errno)"
        case .wrongProgramType(let hook, let expected, let actual):
            "\(hook) needs a program of type \(expected.map(\.description).joined(separator: " or ")), not \(actual)"
        case .attachPointBusy(let hook, let detail):
            "\(hook) is busy: \(detail)"
        case .interfaceNotFound(let name):
            "no network interface \(name)"
        case .netlink(let error):
            error.description
        case .closed:
            "the link is closed"
        case .programClosed(let program, let hook):
            "program \(program) is closed; cannot attach it to \(hook)"
        case .structOpsValueNotPrepared(let map):
            "struct_ops map \(map) registers by writing its value (no BPF_F_LINK), and no collection load prepared one for it"
        case .usdt(let error):
            error.description
        }
    }
}
