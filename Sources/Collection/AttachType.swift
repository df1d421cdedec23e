/// A BPF attach type: the kernel's `enum bpf_attach_type`.
///
/// A struct rather than an enum because newer kernels add values; any raw value round-trips.
/// The named constants are those of Linux 6.18.
public struct AttachType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_CGROUP_INET_INGRESS`.
    public static let cgroupINetIngress = AttachType(rawValue: 0)
    /// `BPF_CGROUP_INET_EGRESS`.
    public static let cgroupINetEgress = AttachType(rawValue: 1)
    /// `BPF_CGROUP_INET_SOCK_CREATE`.
    public static let cgroupINetSockCreate = AttachType(rawValue: 2)
    /// `BPF_CGROUP_SOCK_OPS`.
    public static let cgroupSockOps = AttachType(rawValue: 3)
    /// `BPF_SK_SKB_STREAM_PARSER`.
    public static let skSKBStreamParser = AttachType(rawValue: 4)
    /// `BPF_SK_SKB_STREAM_VERDICT`.
    public static let skSKBStreamVerdict = AttachType(rawValue: 5)
    /// `BPF_CGROUP_DEVICE`.
    public static let cgroupDevice = AttachType(rawValue: 6)
    /// `BPF_SK_MSG_VERDICT`.
    public static let skMsgVerdict = AttachType(rawValue: 7)
    /// `BPF_CGROUP_INET4_BIND`.
    public static let cgroupINet4Bind = AttachType(rawValue: 8)
    /// `BPF_CGROUP_INET6_BIND`.
    public static let cgroupINet6Bind = AttachType(rawValue: 9)
    /// `BPF_CGROUP_INET4_CONNECT`.
    public static let cgroupINet4Connect = AttachType(rawValue: 10)
    /// `BPF_CGROUP_INET6_CONNECT`.
    public static let cgroupINet6Connect = AttachType(rawValue: 11)
    /// `BPF_CGROUP_INET4_POST_BIND`.
    public static let cgroupINet4PostBind = AttachType(rawValue: 12)
    /// `BPF_CGROUP_INET6_POST_BIND`.
    public static let cgroupINet6PostBind = AttachType(rawValue: 13)
    /// `BPF_CGROUP_UDP4_SENDMSG`.
    public static let cgroupUDP4Sendmsg = AttachType(rawValue: 14)
    /// `BPF_CGROUP_UDP6_SENDMSG`.
    public static let cgroupUDP6Sendmsg = AttachType(rawValue: 15)
    /// `BPF_LIRC_MODE2`.
    public static let lircMode2 = AttachType(rawValue: 16)
    /// `BPF_FLOW_DISSECTOR`.
    public static let flowDissector = AttachType(rawValue: 17)
    /// `BPF_CGROUP_SYSCTL`.
    public static let cgroupSysctl = AttachType(rawValue: 18)
    /// `BPF_CGROUP_UDP4_RECVMSG`.
    public static let cgroupUDP4Recvmsg = AttachType(rawValue: 19)
    /// `BPF_CGROUP_UDP6_RECVMSG`.
    public static let cgroupUDP6Recvmsg = AttachType(rawValue: 20)
    /// `BPF_CGROUP_GETSOCKOPT`.
    public static let cgroupGetsockopt = AttachType(rawValue: 21)
    /// `BPF_CGROUP_SETSOCKOPT`.
    public static let cgroupSetsockopt = AttachType(rawValue: 22)
    /// `BPF_TRACE_RAW_TP`.
    public static let traceRawTp = AttachType(rawValue: 23)
    /// `BPF_TRACE_FENTRY`.
    public static let traceFEntry = AttachType(rawValue: 24)
    /// `BPF_TRACE_FEXIT`.
    public static let traceFExit = AttachType(rawValue: 25)
    /// `BPF_MODIFY_RETURN`.
    public static let modifyReturn = AttachType(rawValue: 26)
    /// `BPF_LSM_MAC`.
    public static let lsmMAC = AttachType(rawValue: 27)
    /// `BPF_TRACE_ITER`.
    public static let traceIter = AttachType(rawValue: 28)
    /// `BPF_CGROUP_INET4_GETPEERNAME`.
    public static let cgroupINet4Getpeername = AttachType(rawValue: 29)
    /// `BPF_CGROUP_INET6_GETPEERNAME`.
    public static let cgroupINet6Getpeername = AttachType(rawValue: 30)
    /// `BPF_CGROUP_INET4_GETSOCKNAME`.
    public static let cgroupINet4Getsockname = AttachType(rawValue: 31)
    /// `BPF_CGROUP_INET6_GETSOCKNAME`.
    public static let cgroupINet6Getsockname = AttachType(rawValue: 32)
    /// `BPF_XDP_DEVMAP`.
    public static let xdpDevmap = AttachType(rawValue: 33)
    /// `BPF_CGROUP_INET_SOCK_RELEASE`.
    public static let cgroupINetSockRelease = AttachType(rawValue: 34)
    /// `BPF_XDP_CPUMAP`.
    public static let xdpCPUMap = AttachType(rawValue: 35)
    /// `BPF_SK_LOOKUP`.
    public static let skLookup = AttachType(rawValue: 36)
    /// `BPF_XDP`.
    public static let xdp = AttachType(rawValue: 37)
    /// `BPF_SK_SKB_VERDICT`.
    public static let skSKBVerdict = AttachType(rawValue: 38)
    /// `BPF_SK_REUSEPORT_SELECT`.
    public static let skReuseportSelect = AttachType(rawValue: 39)
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`.
    public static let skReuseportSelectOrMigrate = AttachType(rawValue: 40)
    /// `BPF_PERF_EVENT`.
    public static let perfEvent = AttachType(rawValue: 41)
    /// `BPF_TRACE_KPROBE_MULTI`.
    public static let traceKprobeMulti = AttachType(rawValue: 42)
    /// `BPF_LSM_CGROUP`.
    public static let lsmCgroup = AttachType(rawValue: 43)
    /// `BPF_STRUCT_OPS`.
    public static let structOps = AttachType(rawValue: 44)
    /// `BPF_NETFILTER`.
    public static let netfilter = AttachType(rawValue: 45)
    /// `BPF_TCX_INGRESS`.
    public static let tcxIngress = AttachType(rawValue: 46)
    /// `BPF_TCX_EGRESS`.
    public static let tcxEgress = AttachType(rawValue: 47)
    /// `BPF_TRACE_UPROBE_MULTI`.
    public static let traceUprobeMulti = AttachType(rawValue: 48)
    /// `BPF_CGROUP_UNIX_CONNECT`.
    public static let cgroupUnixConnect = AttachType(rawValue: 49)
    /// `BPF_CGROUP_UNIX_SENDMSG`.
    public static let cgroupUnixSendmsg = AttachType(rawValue: 50)
    /// `BPF_CGROUP_UNIX_RECVMSG`.
    public static let cgroupUnixRecvmsg = AttachType(rawValue: 51)
    /// `BPF_CGROUP_UNIX_GETPEERNAME`.
    public static let cgroupUnixGetpeername = AttachType(rawValue: 52)
    /// `BPF_CGROUP_UNIX_GETSOCKNAME`.
    public static let cgroupUnixGetsockname = AttachType(rawValue: 53)
    /// `BPF_NETKIT_PRIMARY`.
    public static let netkitPrimary = AttachType(rawValue: 54)
    /// `BPF_NETKIT_PEER`.
    public static let netkitPeer = AttachType(rawValue: 55)
    /// `BPF_TRACE_KPROBE_SESSION`.
    public static let traceKprobeSession = AttachType(rawValue: 56)
    /// `BPF_TRACE_UPROBE_SESSION`.
    public static let traceUprobeSession = AttachType(rawValue: 57)

    /// The kernel's name for the value, or its number when this library does not know it.
    public var description: String {
        switch rawValue {
        case 0: "BPF_CGROUP_INET_INGRESS"
        case 1: "BPF_CGROUP_INET_EGRESS"
        case 2: "BPF_CGROUP_INET_SOCK_CREATE"
        case 3: "BPF_CGROUP_SOCK_OPS"
        case 4: "BPF_SK_SKB_STREAM_PARSER"
        case 5: "BPF_SK_SKB_STREAM_VERDICT"
        case 6: "BPF_CGROUP_DEVICE"
        case 7: "BPF_SK_MSG_VERDICT"
        case 8: "BPF_CGROUP_INET4_BIND"
        case 9: "BPF_CGROUP_INET6_BIND"
        case 10: "BPF_CGROUP_INET4_CONNECT"
        case 11: "BPF_CGROUP_INET6_CONNECT"
        case 12: "BPF_CGROUP_INET4_POST_BIND"
        case 13: "BPF_CGROUP_INET6_POST_BIND"
        case 14: "BPF_CGROUP_UDP4_SENDMSG"
        case 15: "BPF_CGROUP_UDP6_SENDMSG"
        case 16: "BPF_LIRC_MODE2"
        case 17: "BPF_FLOW_DISSECTOR"
        case 18: "BPF_CGROUP_SYSCTL"
        case 19: "BPF_CGROUP_UDP4_RECVMSG"
        case 20: "BPF_CGROUP_UDP6_RECVMSG"
        case 21: "BPF_CGROUP_GETSOCKOPT"
        case 22: "BPF_CGROUP_SETSOCKOPT"
        case 23: "BPF_TRACE_RAW_TP"
        case 24: "BPF_TRACE_FENTRY"
        case 25: "BPF_TRACE_FEXIT"
        case 26: "BPF_MODIFY_RETURN"
        case 27: "BPF_LSM_MAC"
        case 28: "BPF_TRACE_ITER"
        case 29: "BPF_CGROUP_INET4_GETPEERNAME"
        case 30: "BPF_CGROUP_INET6_GETPEERNAME"
        case 31: "BPF_CGROUP_INET4_GETSOCKNAME"
        case 32: "BPF_CGROUP_INET6_GETSOCKNAME"
        case 33: "BPF_XDP_DEVMAP"
        case 34: "BPF_CGROUP_INET_SOCK_RELEASE"
        case 35: "BPF_XDP_CPUMAP"
        case 36: "BPF_SK_LOOKUP"
        case 37: "BPF_XDP"
        case 38: "BPF_SK_SKB_VERDICT"
        case 39: "BPF_SK_REUSEPORT_SELECT"
        case 40: "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE"
        case 41: "BPF_PERF_EVENT"
        case 42: "BPF_TRACE_KPROBE_MULTI"
        case 43: "BPF_LSM_CGROUP"
        case 44: "BPF_STRUCT_OPS"
        case 45: "BPF_NETFILTER"
        case 46: "BPF_TCX_INGRESS"
        case 47: "BPF_TCX_EGRESS"
        case 48: "BPF_TRACE_UPROBE_MULTI"
        case 49: "BPF_CGROUP_UNIX_CONNECT"
        case 50: "BPF_CGROUP_UNIX_SENDMSG"
        case 51: "BPF_CGROUP_UNIX_RECVMSG"
        case 52: "BPF_CGROUP_UNIX_GETPEERNAME"
        case 53: "BPF_CGROUP_UNIX_GETSOCKNAME"
        case 54: "BPF_NETKIT_PRIMARY"
        case 55: "BPF_NETKIT_PEER"
        case 56: "BPF_TRACE_KPROBE_SESSION"
        case 57: "BPF_TRACE_UPROBE_SESSION"
        default: "BPF_(\(rawValue))"
        }
    }
}
