// The info structs `BPF_OBJ_GET_INFO_BY_FD` fills, laid out as the kernel's (Linux 6.18). A kernel
// that knows fewer fields fills a prefix and reports its length.

/// An info struct `BPF_OBJ_GET_INFO_BY_FD` can fill: plain data with an all-zero initial value.
public protocol BPFObjectInfo: BitwiseCopyable, Sendable {
    init()
}

/// The kernel's `struct bpf_prog_info`. `gplCompatible` holds the kernel's one-bit field
/// `gpl_compatible` in its lowest bit (see ``isGPLCompatible``).
public struct ProgInfo: BPFObjectInfo {
    public var type: UInt32 = 0
    public var id: UInt32 = 0
    public var tag: UInt64 = 0
    public var jitedProgLen: UInt32 = 0
    public var xlatedProgLen: UInt32 = 0
    public var jitedProgInsns: UInt64 = 0
    public var xlatedProgInsns: UInt64 = 0
    public var loadTime: UInt64 = 0
    public var createdByUID: UInt32 = 0
    public var nrMapIDs: UInt32 = 0
    public var mapIDs: UInt64 = 0
    public var name = BPFObjectName()
    public var ifindex: UInt32 = 0
    public var gplCompatible: UInt32 = 0
    public var netnsDev: UInt64 = 0
    public var netnsIno: UInt64 = 0
    public var nrJitedKsyms: UInt32 = 0
    public var nrJitedFuncLens: UInt32 = 0
    public var jitedKsyms: UInt64 = 0
    public var jitedFuncLens: UInt64 = 0
    public var btfID: UInt32 = 0
    public var funcInfoRecSize: UInt32 = 0
    public var funcInfo: UInt64 = 0
    public var nrFuncInfo: UInt32 = 0
    public var nrLineInfo: UInt32 = 0
    public var lineInfo: UInt64 = 0
    public var jitedLineInfo: UInt64 = 0
    public var nrJitedLineInfo: UInt32 = 0
    public var lineInfoRecSize: UInt32 = 0
    public var jitedLineInfoRecSize: UInt32 = 0
    public var nrProgTags: UInt32 = 0
    public var progTags: UInt64 = 0
    public var runTimeNs: UInt64 = 0
    public var runCnt: UInt64 = 0
    public var recursionMisses: UInt64 = 0
    public var verifiedInsns: UInt32 = 0
    public var attachBTFObjID: UInt32 = 0
    public var attachBTFID: UInt32 = 0
    public var padding0: UInt32 = 0

    public init() {}

    /// The bit field `gpl_compatible`.
    public var isGPLCompatible: Bool {
        gplCompatible & 1 != 0
    }

    /// The program's tag (a hash of its instructions) as the kernel stores it: 8 bytes, in memory
    /// order.
    public var tagBytes: [UInt8] {
        withUnsafeBytes(of: tag) { Array($0) }
    }
}

/// The kernel's `struct bpf_map_info`.
public struct MapInfo: BPFObjectInfo {
    public var type: UInt32 = 0
    public var id: UInt32 = 0
    public var keySize: UInt32 = 0
    public var valueSize: UInt32 = 0
    public var maxEntries: UInt32 = 0
    public var mapFlags: UInt32 = 0
    public var name = BPFObjectName()
    public var ifindex: UInt32 = 0
    public var btfVmlinuxValueTypeID: UInt32 = 0
    public var netnsDev: UInt64 = 0
    public var netnsIno: UInt64 = 0
    public var btfID: UInt32 = 0
    public var btfKeyTypeID: UInt32 = 0
    public var btfValueTypeID: UInt32 = 0
    public var btfVmlinuxID: UInt32 = 0
    public var mapExtra: UInt64 = 0
    public var hash: UInt64 = 0
    public var hashSize: UInt32 = 0
    public var padding0: UInt32 = 0

    public init() {}
}

/// The kernel's `struct bpf_btf_info`.
public struct BTFInfo: BPFObjectInfo {
    public var btf: UInt64 = 0
    public var btfSize: UInt32 = 0
    public var id: UInt32 = 0
    public var name: UInt64 = 0
    public var nameLen: UInt32 = 0
    public var kernelBTF: UInt32 = 0

    public init() {}
}

/// The kernel's `struct bpf_link_info`. The last 48 bytes are a union whose member depends on
/// `type`; read it with ``extra(as:)``, for instance `info.extra(as: TracingLinkInfo.self)`.
public struct LinkInfo: BPFObjectInfo {
    public var type: UInt32 = 0
    public var id: UInt32 = 0
    public var progID: UInt32 = 0
    public var padding0: UInt32 = 0
    public var extra: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)

    public init() {}

    /// The union member for this link's type (all zero for a type larger than the union).
    public func extra<Extra: LinkInfoExtra>(as type: Extra.Type) -> Extra {
        withUnsafeBytes(of: extra) { bytes in
            guard MemoryLayout<Extra>.size <= bytes.count else { return Extra() }
            return bytes.loadUnaligned(as: Extra.self)
        }
    }

    /// Stores a union member, for instance to point `tp_name` at a buffer before the call. A type
    /// larger than the union is ignored.
    public mutating func setExtra<Extra: LinkInfoExtra>(_ value: Extra) {
        withUnsafeMutableBytes(of: &extra) { bytes in
            guard MemoryLayout<Extra>.size <= bytes.count else { return }
            bytes.storeBytes(of: value, as: Extra.self)
        }
    }
}

/// A member of the union at the end of `struct bpf_link_info`. Conforming types are at most 48
/// bytes (the layout tests check it).
public protocol LinkInfoExtra: BitwiseCopyable, Sendable {
    init()
}

/// `bpf_link_info.raw_tracepoint`.
public struct RawTracepointLinkInfo: LinkInfoExtra {
    public var tpName: UInt64 = 0
    public var tpNameLen: UInt32 = 0
    public var padding0: UInt32 = 0
    public var cookie: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.tracing`.
public struct TracingLinkInfo: LinkInfoExtra {
    public var attachType: UInt32 = 0
    public var targetObjID: UInt32 = 0
    public var targetBTFID: UInt32 = 0
    public var padding0: UInt32 = 0
    public var cookie: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.cgroup`.
public struct CgroupLinkInfo: LinkInfoExtra {
    public var cgroupID: UInt64 = 0
    public var attachType: UInt32 = 0
    public var padding0: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.iter`. `mapID` is the union member `map.map_id`; `cgroupID` and `order` the
/// union member `cgroup`, which shares its bytes with `task` (``taskTID``, ``taskPID``).
public struct IterLinkInfo: LinkInfoExtra {
    public var targetName: UInt64 = 0
    public var targetNameLen: UInt32 = 0
    public var mapID: UInt32 = 0
    public var cgroupID: UInt64 = 0
    public var order: UInt32 = 0
    public var padding0: UInt32 = 0
    public init() {}

    /// The union member `task.tid`.
    public var taskTID: UInt32 {
        withUnsafeBytes(of: cgroupID) { $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self) }
    }

    /// The union member `task.pid`.
    public var taskPID: UInt32 {
        withUnsafeBytes(of: cgroupID) { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
    }
}

/// `bpf_link_info.netns`.
public struct NetNsLinkInfo: LinkInfoExtra {
    public var netnsIno: UInt32 = 0
    public var attachType: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.xdp`.
public struct XDPLinkInfo: LinkInfoExtra {
    public var ifindex: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.struct_ops`.
public struct StructOpsLinkInfo: LinkInfoExtra {
    public var mapID: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.netfilter`.
public struct NetfilterLinkInfo: LinkInfoExtra {
    public var pf: UInt32 = 0
    public var hooknum: UInt32 = 0
    public var priority: Int32 = 0
    public var flags: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.kprobe_multi`.
public struct KprobeMultiLinkInfo: LinkInfoExtra {
    public var addrs: UInt64 = 0
    public var count: UInt32 = 0
    public var flags: UInt32 = 0
    public var missed: UInt64 = 0
    public var cookies: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.uprobe_multi`.
public struct UprobeMultiLinkInfo: LinkInfoExtra {
    public var path: UInt64 = 0
    public var offsets: UInt64 = 0
    public var refCtrOffsets: UInt64 = 0
    public var cookies: UInt64 = 0
    public var pathSize: UInt32 = 0
    public var count: UInt32 = 0
    public var flags: UInt32 = 0
    public var pid: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.perf_event` with its `uprobe` member (`type` is
/// `BPF_PERF_EVENT_UPROBE` or `BPF_PERF_EVENT_URETPROBE`).
public struct PerfEventUprobeLinkInfo: LinkInfoExtra {
    public var type: UInt32 = 0
    public var padding0: UInt32 = 0
    public var fileName: UInt64 = 0
    public var nameLen: UInt32 = 0
    public var offset: UInt32 = 0
    public var cookie: UInt64 = 0
    public var refCtrOffset: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.perf_event` with its `kprobe` member.
public struct PerfEventKprobeLinkInfo: LinkInfoExtra {
    public var type: UInt32 = 0
    public var padding0: UInt32 = 0
    public var funcName: UInt64 = 0
    public var nameLen: UInt32 = 0
    public var offset: UInt32 = 0
    public var addr: UInt64 = 0
    public var missed: UInt64 = 0
    public var cookie: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.perf_event` with its `tracepoint` member.
public struct PerfEventTracepointLinkInfo: LinkInfoExtra {
    public var type: UInt32 = 0
    public var padding0: UInt32 = 0
    public var tpName: UInt64 = 0
    public var nameLen: UInt32 = 0
    public var padding1: UInt32 = 0
    public var cookie: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.perf_event` with its `event` member.
public struct PerfEventEventLinkInfo: LinkInfoExtra {
    public var type: UInt32 = 0
    public var padding0: UInt32 = 0
    public var config: UInt64 = 0
    public var eventType: UInt32 = 0
    public var padding1: UInt32 = 0
    public var cookie: UInt64 = 0
    public init() {}
}

/// `bpf_link_info.tcx`.
public struct TCXLinkInfo: LinkInfoExtra {
    public var ifindex: UInt32 = 0
    public var attachType: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.netkit`.
public struct NetkitLinkInfo: LinkInfoExtra {
    public var ifindex: UInt32 = 0
    public var attachType: UInt32 = 0
    public init() {}
}

/// `bpf_link_info.sockmap`.
public struct SockmapLinkInfo: LinkInfoExtra {
    public var mapID: UInt32 = 0
    public var attachType: UInt32 = 0
    public init() {}
}
