/// A BPF helper function: the kernel's `enum bpf_func_id`. The ID is the immediate of `call`.
///
/// A struct rather than an enum because newer kernels add helpers; any raw value works.
public struct HelperFunction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `BPF_FUNC_map_lookup_elem`.
    public static let mapLookupElem = HelperFunction(rawValue: 1)
    /// `BPF_FUNC_map_update_elem`.
    public static let mapUpdateElem = HelperFunction(rawValue: 2)
    /// `BPF_FUNC_map_delete_elem`.
    public static let mapDeleteElem = HelperFunction(rawValue: 3)
    /// `BPF_FUNC_probe_read`.
    public static let probeRead = HelperFunction(rawValue: 4)
    /// `BPF_FUNC_ktime_get_ns`.
    public static let ktimeGetNs = HelperFunction(rawValue: 5)
    /// `BPF_FUNC_trace_printk`.
    public static let tracePrintk = HelperFunction(rawValue: 6)
    /// `BPF_FUNC_get_prandom_u32`.
    public static let getPrandomU32 = HelperFunction(rawValue: 7)
    /// `BPF_FUNC_get_smp_processor_id`.
    public static let getSmpProcessorID = HelperFunction(rawValue: 8)
    /// `BPF_FUNC_skb_store_bytes`.
    public static let skbStoreBytes = HelperFunction(rawValue: 9)
    /// `BPF_FUNC_tail_call`.
    public static let tailCall = HelperFunction(rawValue: 12)
    /// `BPF_FUNC_get_current_pid_tgid`.
    public static let getCurrentPidTgid = HelperFunction(rawValue: 14)
    /// `BPF_FUNC_redirect`.
    public static let redirect = HelperFunction(rawValue: 23)
    /// `BPF_FUNC_perf_event_output`.
    public static let perfEventOutput = HelperFunction(rawValue: 25)
    /// `BPF_FUNC_skb_load_bytes`.
    public static let skbLoadBytes = HelperFunction(rawValue: 26)
    /// `BPF_FUNC_redirect_map`.
    public static let redirectMap = HelperFunction(rawValue: 51)
    /// `BPF_FUNC_ringbuf_output`.
    public static let ringbufOutput = HelperFunction(rawValue: 130)
    /// `BPF_FUNC_get_attach_cookie`.
    public static let getAttachCookie = HelperFunction(rawValue: 174)
    /// `BPF_FUNC_loop`.
    public static let loop = HelperFunction(rawValue: 181)

    private static let names: [Int32: String] = [
        1: "bpf_map_lookup_elem", 2: "bpf_map_update_elem", 3: "bpf_map_delete_elem", 4: "bpf_probe_read",
        5: "bpf_ktime_get_ns", 6: "bpf_trace_printk", 7: "bpf_get_prandom_u32", 8: "bpf_get_smp_processor_id",
        9: "bpf_skb_store_bytes", 12: "bpf_tail_call", 14: "bpf_get_current_pid_tgid", 23: "bpf_redirect",
        25: "bpf_perf_event_output", 26: "bpf_skb_load_bytes", 51: "bpf_redirect_map", 130: "bpf_ringbuf_output",
        174: "bpf_get_attach_cookie", 181: "bpf_loop",
    ]

    /// `bpf_map_lookup_elem#1`, as the verifier names helpers; `helper#N` for IDs without a name here.
    public var description: String {
        "\(HelperFunction.names[rawValue] ?? "helper")#\(rawValue)"
    }
}
