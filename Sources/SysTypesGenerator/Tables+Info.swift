// The info structs `BPF_OBJ_GET_INFO_BY_FD` fills, and the members of the union at the end of
// `struct bpf_link_info`, each a struct of its own.

extension SysTypesGenerator {
    static let infoRecipes: [StructRecipe] = [
        StructRecipe(
            swiftName: "ProgInfo", source: "bpf_prog_info",
            doc: [
                "The kernel's `struct bpf_prog_info`. `gplCompatible` holds the kernel's one-bit field",
                "`gpl_compatible` in its lowest bit (see ``isGPLCompatible``); `tag` holds the 8 bytes of the",
                "kernel's `tag` array (see ``tagBytes``).",
            ],
            conformances: "BPFObjectInfo", typeOverrides: ["tag": "UInt64"]),
        StructRecipe(
            swiftName: "MapInfo", source: "bpf_map_info", doc: ["The kernel's `struct bpf_map_info`."],
            conformances: "BPFObjectInfo"),
        StructRecipe(
            swiftName: "BTFInfo", source: "bpf_btf_info", doc: ["The kernel's `struct bpf_btf_info`."],
            conformances: "BPFObjectInfo"),
        StructRecipe(
            swiftName: "LinkInfo", source: "bpf_link_info",
            doc: [
                "The kernel's `struct bpf_link_info`. The last 48 bytes are a union whose member depends on",
                "`type`; read it with ``extra(as:)``, for instance `info.extra(as: TracingLinkInfo.self)`.",
            ],
            conformances: "BPFObjectInfo", opaqueUnions: ["raw_tracepoint": "extra"]),
    ]

    /// Offsets in these structs count from the start of the union, byte 16 of `struct bpf_link_info`.
    static let linkInfoExtraRecipes: [StructRecipe] = [
        linkInfoExtra("RawTracepointLinkInfo", member: "raw_tracepoint"),
        linkInfoExtra("TracingLinkInfo", member: "tracing"),
        linkInfoExtra("CgroupLinkInfo", member: "cgroup"),
        linkInfoExtra(
            "IterLinkInfo", member: "iter",
            doc: [
                "`bpf_link_info.iter`. `mapID` is the union member `map.map_id`; `cgroupID` and `order` the",
                "union member `cgroup`, which shares its bytes with `task` (``taskTID``, ``taskPID``).",
            ]),
        linkInfoExtra("NetNsLinkInfo", member: "netns"),
        linkInfoExtra("XDPLinkInfo", member: "xdp"),
        linkInfoExtra("StructOpsLinkInfo", member: "struct_ops"),
        linkInfoExtra("NetfilterLinkInfo", member: "netfilter"),
        linkInfoExtra("KprobeMultiLinkInfo", member: "kprobe_multi"),
        linkInfoExtra("UprobeMultiLinkInfo", member: "uprobe_multi"),
        linkInfoExtra(
            "PerfEventUprobeLinkInfo", member: "perf_event", choice: "uprobe",
            doc: [
                "`bpf_link_info.perf_event` with its `uprobe` member (`type` is",
                "`BPF_PERF_EVENT_UPROBE` or `BPF_PERF_EVENT_URETPROBE`).",
            ]),
        linkInfoExtra(
            "PerfEventKprobeLinkInfo", member: "perf_event", choice: "kprobe",
            doc: ["`bpf_link_info.perf_event` with its `kprobe` member."]),
        linkInfoExtra(
            "PerfEventTracepointLinkInfo", member: "perf_event", choice: "tracepoint",
            doc: ["`bpf_link_info.perf_event` with its `tracepoint` member."]),
        linkInfoExtra(
            "PerfEventEventLinkInfo", member: "perf_event", choice: "event",
            doc: ["`bpf_link_info.perf_event` with its `event` member (its `type` is ``eventType``)."]),
        linkInfoExtra("TCXLinkInfo", member: "tcx"),
        linkInfoExtra("NetkitLinkInfo", member: "netkit"),
        linkInfoExtra("SockmapLinkInfo", member: "sockmap"),
    ]

    private static func linkInfoExtra(
        _ name: String, member: String, choice: String? = nil, doc: [String]? = nil
    ) -> StructRecipe {
        StructRecipe(
            swiftName: name, source: "bpf_link_info", path: [member], doc: doc ?? ["`bpf_link_info.\(member)`."],
            conformances: "LinkInfoExtra", choices: choice.map { [$0] } ?? [], trimToFields: true)
    }
}
