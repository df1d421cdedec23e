/// A BPF program type: the kernel's `enum bpf_prog_type`.
///
/// A struct rather than an enum because newer kernels add values; any raw value round-trips.
/// The named constants are those of Linux 6.18.
public struct ProgramType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_PROG_TYPE_UNSPEC`.
    public static let unspec = ProgramType(rawValue: 0)
    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    public static let socketFilter = ProgramType(rawValue: 1)
    /// `BPF_PROG_TYPE_KPROBE`.
    public static let kprobe = ProgramType(rawValue: 2)
    /// `BPF_PROG_TYPE_SCHED_CLS`.
    public static let schedCls = ProgramType(rawValue: 3)
    /// `BPF_PROG_TYPE_SCHED_ACT`.
    public static let schedAct = ProgramType(rawValue: 4)
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    public static let tracepoint = ProgramType(rawValue: 5)
    /// `BPF_PROG_TYPE_XDP`.
    public static let xdp = ProgramType(rawValue: 6)
    /// `BPF_PROG_TYPE_PERF_EVENT`.
    public static let perfEvent = ProgramType(rawValue: 7)
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    public static let cgroupSKB = ProgramType(rawValue: 8)
    /// `BPF_PROG_TYPE_CGROUP_SOCK`.
    public static let cgroupSock = ProgramType(rawValue: 9)
    /// `BPF_PROG_TYPE_LWT_IN`.
    public static let lwtIn = ProgramType(rawValue: 10)
    /// `BPF_PROG_TYPE_LWT_OUT`.
    public static let lwtOut = ProgramType(rawValue: 11)
    /// `BPF_PROG_TYPE_LWT_XMIT`.
    public static let lwtXmit = ProgramType(rawValue: 12)
    /// `BPF_PROG_TYPE_SOCK_OPS`.
    public static let sockOps = ProgramType(rawValue: 13)
    /// `BPF_PROG_TYPE_SK_SKB`.
    public static let skSKB = ProgramType(rawValue: 14)
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`.
    public static let cgroupDevice = ProgramType(rawValue: 15)
    /// `BPF_PROG_TYPE_SK_MSG`.
    public static let skMsg = ProgramType(rawValue: 16)
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    public static let rawTracepoint = ProgramType(rawValue: 17)
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
    public static let cgroupSockAddr = ProgramType(rawValue: 18)
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`.
    public static let lwtSeg6Local = ProgramType(rawValue: 19)
    /// `BPF_PROG_TYPE_LIRC_MODE2`.
    public static let lircMode2 = ProgramType(rawValue: 20)
    /// `BPF_PROG_TYPE_SK_REUSEPORT`.
    public static let skReuseport = ProgramType(rawValue: 21)
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`.
    public static let flowDissector = ProgramType(rawValue: 22)
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`.
    public static let cgroupSysctl = ProgramType(rawValue: 23)
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
    public static let rawTracepointWritable = ProgramType(rawValue: 24)
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
    public static let cgroupSockopt = ProgramType(rawValue: 25)
    /// `BPF_PROG_TYPE_TRACING`.
    public static let tracing = ProgramType(rawValue: 26)
    /// `BPF_PROG_TYPE_STRUCT_OPS`.
    public static let structOps = ProgramType(rawValue: 27)
    /// `BPF_PROG_TYPE_EXT`.
    public static let ext = ProgramType(rawValue: 28)
    /// `BPF_PROG_TYPE_LSM`.
    public static let lsm = ProgramType(rawValue: 29)
    /// `BPF_PROG_TYPE_SK_LOOKUP`.
    public static let skLookup = ProgramType(rawValue: 30)
    /// `BPF_PROG_TYPE_SYSCALL`.
    public static let syscall = ProgramType(rawValue: 31)
    /// `BPF_PROG_TYPE_NETFILTER`.
    public static let netfilter = ProgramType(rawValue: 32)

    /// The kernel's name for the value, or its number when this library does not know it.
    public var description: String {
        switch rawValue {
        case 0: "BPF_PROG_TYPE_UNSPEC"
        case 1: "BPF_PROG_TYPE_SOCKET_FILTER"
        case 2: "BPF_PROG_TYPE_KPROBE"
        case 3: "BPF_PROG_TYPE_SCHED_CLS"
        case 4: "BPF_PROG_TYPE_SCHED_ACT"
        case 5: "BPF_PROG_TYPE_TRACEPOINT"
        case 6: "BPF_PROG_TYPE_XDP"
        case 7: "BPF_PROG_TYPE_PERF_EVENT"
        case 8: "BPF_PROG_TYPE_CGROUP_SKB"
        case 9: "BPF_PROG_TYPE_CGROUP_SOCK"
        case 10: "BPF_PROG_TYPE_LWT_IN"
        case 11: "BPF_PROG_TYPE_LWT_OUT"
        case 12: "BPF_PROG_TYPE_LWT_XMIT"
        case 13: "BPF_PROG_TYPE_SOCK_OPS"
        case 14: "BPF_PROG_TYPE_SK_SKB"
        case 15: "BPF_PROG_TYPE_CGROUP_DEVICE"
        case 16: "BPF_PROG_TYPE_SK_MSG"
        case 17: "BPF_PROG_TYPE_RAW_TRACEPOINT"
        case 18: "BPF_PROG_TYPE_CGROUP_SOCK_ADDR"
        case 19: "BPF_PROG_TYPE_LWT_SEG6LOCAL"
        case 20: "BPF_PROG_TYPE_LIRC_MODE2"
        case 21: "BPF_PROG_TYPE_SK_REUSEPORT"
        case 22: "BPF_PROG_TYPE_FLOW_DISSECTOR"
        case 23: "BPF_PROG_TYPE_CGROUP_SYSCTL"
        case 24: "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE"
        case 25: "BPF_PROG_TYPE_CGROUP_SOCKOPT"
        case 26: "BPF_PROG_TYPE_TRACING"
        case 27: "BPF_PROG_TYPE_STRUCT_OPS"
        case 28: "BPF_PROG_TYPE_EXT"
        case 29: "BPF_PROG_TYPE_LSM"
        case 30: "BPF_PROG_TYPE_SK_LOOKUP"
        case 31: "BPF_PROG_TYPE_SYSCALL"
        case 32: "BPF_PROG_TYPE_NETFILTER"
        default: "BPF_PROG_TYPE_(\(rawValue))"
        }
    }
}
