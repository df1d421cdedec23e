// Which member of `union bpf_attr` each command reads. The kernel does not name most members, so
// this table is the one place that ties a command to its struct; `@field` selects the anonymous
// member whose first field is `field`.

extension SysTypesGenerator {
    /// The attribute structs, grouped by the file they are written to.
    static let attributeFiles: [(file: String, summary: String, recipes: [StructRecipe])] = [
        ("MapAttributes.swift", "Attribute structs of the map commands.", mapAttributes),
        ("ProgramAttributes.swift", "Attribute structs of the program commands.", programAttributes),
        ("ObjectAttributes.swift", "Attribute structs of the commands that work on any BPF object.", objectAttributes),
        ("LinkAttributes.swift", "Attribute structs of the link, iterator and tracing commands.", linkAttributes),
    ]

    static let mapAttributes: [StructRecipe] = [
        StructRecipe(
            swiftName: "MapCreateAttr", source: "bpf_attr", path: ["@map_type"],
            doc: ["Attributes of `BPF_MAP_CREATE`."]),
        StructRecipe(
            swiftName: "MapElemAttr", source: "bpf_attr", path: ["@map_fd"],
            doc: [
                "Attributes of the single-element map commands (`BPF_MAP_LOOKUP_ELEM`, `BPF_MAP_UPDATE_ELEM`,",
                "`BPF_MAP_DELETE_ELEM`, `BPF_MAP_LOOKUP_AND_DELETE_ELEM`); the kernel shares one struct for",
                "them. `value` is a union with `next_key` (see ``MapGetNextKeyAttr``).",
            ],
            aliases: [
                .init(name: "MapLookupElemAttr", doc: "Attributes of `BPF_MAP_LOOKUP_ELEM`."),
                .init(name: "MapUpdateElemAttr", doc: "Attributes of `BPF_MAP_UPDATE_ELEM`."),
                .init(name: "MapDeleteElemAttr", doc: "Attributes of `BPF_MAP_DELETE_ELEM`."),
                .init(name: "MapLookupAndDeleteElemAttr", doc: "Attributes of `BPF_MAP_LOOKUP_AND_DELETE_ELEM`."),
            ]),
        StructRecipe(
            swiftName: "MapGetNextKeyAttr", source: "bpf_attr", path: ["@map_fd"],
            doc: ["Attributes of `BPF_MAP_GET_NEXT_KEY`: the element struct with the union's `next_key` member."],
            choices: ["next_key"]),
        StructRecipe(
            swiftName: "MapBatchAttr", source: "bpf_attr", path: ["batch"],
            doc: [
                "Attributes of the batch map commands (the kernel's `batch` member), shared by",
                "`BPF_MAP_LOOKUP_BATCH`, `BPF_MAP_LOOKUP_AND_DELETE_BATCH`, `BPF_MAP_UPDATE_BATCH` and",
                "`BPF_MAP_DELETE_BATCH`. The kernel writes `count` (elements processed) and `out_batch`.",
            ],
            aliases: [
                .init(name: "MapLookupBatchAttr", doc: "Attributes of `BPF_MAP_LOOKUP_BATCH`."),
                .init(name: "MapLookupAndDeleteBatchAttr", doc: "Attributes of `BPF_MAP_LOOKUP_AND_DELETE_BATCH`."),
                .init(name: "MapUpdateBatchAttr", doc: "Attributes of `BPF_MAP_UPDATE_BATCH`."),
                .init(name: "MapDeleteBatchAttr", doc: "Attributes of `BPF_MAP_DELETE_BATCH`."),
            ]),
        StructRecipe(
            swiftName: "MapFreezeAttr", source: "bpf_attr", path: ["@map_fd"],
            doc: ["Attributes of `BPF_MAP_FREEZE`: the element struct up to `map_fd`, the one field it reads."],
            lastField: "map_fd"),
    ]

    static let programAttributes: [StructRecipe] = [
        StructRecipe(
            swiftName: "ProgLoadAttr", source: "bpf_attr", path: ["@prog_type"],
            doc: ["Attributes of `BPF_PROG_LOAD`. The kernel writes `log_true_size` (Linux 6.4 and later)."]),
        StructRecipe(
            swiftName: "ProgTestRunAttr", source: "bpf_attr", path: ["test"],
            doc: [
                "Attributes of `BPF_PROG_TEST_RUN` (the kernel's `test` member). The kernel writes `retval`,",
                "`duration`, `data_size_out` and `ctx_size_out`.",
            ]),
        StructRecipe(
            swiftName: "ProgAttachAttr", source: "bpf_attr", path: ["@target_fd"],
            doc: ["Attributes of `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`."],
            aliases: [.init(name: "ProgDetachAttr", doc: "Attributes of `BPF_PROG_DETACH`.")]),
        StructRecipe(
            swiftName: "ProgQueryAttr", source: "bpf_attr", path: ["query"],
            doc: [
                "Attributes of `BPF_PROG_QUERY` (the kernel's `query` member). The kernel writes",
                "`attach_flags`, `prog_cnt`, the arrays and `revision`.",
            ]),
        StructRecipe(
            swiftName: "ProgBindMapAttr", source: "bpf_attr", path: ["prog_bind_map"],
            doc: ["Attributes of `BPF_PROG_BIND_MAP` (the kernel's `prog_bind_map` member)."]),
        StructRecipe(
            swiftName: "ProgStreamReadByFDAttr", source: "bpf_attr", path: ["prog_stream_read"],
            doc: ["Attributes of `BPF_PROG_STREAM_READ_BY_FD` (the kernel's `prog_stream_read` member)."]),
    ]

    static let objectAttributes: [StructRecipe] = [
        StructRecipe(
            swiftName: "ObjPinAttr", source: "bpf_attr", path: ["@pathname"],
            doc: ["Attributes of `BPF_OBJ_PIN` and `BPF_OBJ_GET`."],
            aliases: [.init(name: "ObjGetAttr", doc: "Attributes of `BPF_OBJ_GET`.")]),
        StructRecipe(
            swiftName: "ObjectIDAttr", source: "bpf_attr", path: ["@start_id"],
            doc: [
                "Attributes of the ID commands (`BPF_*_GET_NEXT_ID`, `BPF_*_GET_FD_BY_ID`), which the kernel",
                "shares. `startID` is a union with `prog_id`, `map_id`, `btf_id` and `link_id`.",
            ],
            aliases: [
                .init(name: "ProgGetNextIDAttr", doc: "Attributes of `BPF_PROG_GET_NEXT_ID`."),
                .init(name: "MapGetNextIDAttr", doc: "Attributes of `BPF_MAP_GET_NEXT_ID`."),
                .init(name: "BTFGetNextIDAttr", doc: "Attributes of `BPF_BTF_GET_NEXT_ID`."),
                .init(name: "LinkGetNextIDAttr", doc: "Attributes of `BPF_LINK_GET_NEXT_ID`."),
                .init(name: "ProgGetFDByIDAttr", doc: "Attributes of `BPF_PROG_GET_FD_BY_ID`."),
                .init(name: "MapGetFDByIDAttr", doc: "Attributes of `BPF_MAP_GET_FD_BY_ID`."),
                .init(name: "BTFGetFDByIDAttr", doc: "Attributes of `BPF_BTF_GET_FD_BY_ID`."),
                .init(name: "LinkGetFDByIDAttr", doc: "Attributes of `BPF_LINK_GET_FD_BY_ID`."),
            ]),
        StructRecipe(
            swiftName: "ObjGetInfoByFDAttr", source: "bpf_attr", path: ["info"],
            doc: [
                "Attributes of `BPF_OBJ_GET_INFO_BY_FD` (the kernel's `info` member). The kernel writes",
                "`info_len`: how many bytes of the info struct it filled.",
            ]),
        StructRecipe(
            swiftName: "BTFLoadAttr", source: "bpf_attr", path: ["@btf"],
            doc: ["Attributes of `BPF_BTF_LOAD`. The kernel writes `btf_log_true_size` (Linux 6.4 and later)."]),
        StructRecipe(
            swiftName: "EnableStatsAttr", source: "bpf_attr", path: ["enable_stats"],
            doc: ["Attributes of `BPF_ENABLE_STATS`. `BPF_STATS_RUN_TIME` (0) is the only `type`."]),
        StructRecipe(
            swiftName: "TokenCreateAttr", source: "bpf_attr", path: ["token_create"],
            doc: ["Attributes of `BPF_TOKEN_CREATE`."]),
    ]

    /// `BPF_LINK_CREATE` has a union of per-attach-kind members after its first 16 bytes; each member
    /// gets a struct of its own with the full length of `link_create`.
    static let linkAttributes: [StructRecipe] = [
        linkCreate(
            "LinkCreateAttr", choice: "target_btf_id",
            doc: ["`BPF_LINK_CREATE` with `target_btf_id` (and no other union member)."]),
        linkCreate(
            "LinkCreateIterAttr", choice: "iter_info",
            doc: ["`BPF_LINK_CREATE` for iterators (the anonymous `iter_info` member)."]),
        linkCreate(
            "LinkCreatePerfEventAttr", choice: "perf_event",
            doc: ["`BPF_LINK_CREATE` for perf events (the `perf_event` member)."]),
        linkCreate(
            "LinkCreateKprobeMultiAttr", choice: "kprobe_multi",
            doc: [
                "`BPF_LINK_CREATE` for kprobe.multi (the `kprobe_multi` member; its `flags` and `cnt` are",
                "``kprobeMultiFlags`` and ``count``).",
            ],
            renames: ["kprobe_multi.cnt": "count"]),
        linkCreate(
            "LinkCreateTracingAttr", choice: "tracing",
            doc: ["`BPF_LINK_CREATE` for fentry, fexit and other tracing programs (the `tracing` member)."]),
        linkCreate(
            "LinkCreateNetfilterAttr", choice: "netfilter",
            doc: ["`BPF_LINK_CREATE` for netfilter (the `netfilter` member; its `flags` is ``netfilterFlags``)."]),
        linkCreate(
            "LinkCreateTCXAttr", choice: "tcx",
            doc: ["`BPF_LINK_CREATE` for tcx (the `tcx` member); netkit and cgroup links share its shape."],
            aliases: [
                .init(
                    name: "LinkCreateNetkitAttr", doc: "`BPF_LINK_CREATE` for netkit (the `netkit` member).",
                    sameShapeChoice: "netkit"),
                .init(
                    name: "LinkCreateCgroupAttr",
                    doc: "`BPF_LINK_CREATE` for cgroup links with ordering (the `cgroup` member).",
                    sameShapeChoice: "cgroup"),
            ]),
        linkCreate(
            "LinkCreateUprobeMultiAttr", choice: "uprobe_multi",
            doc: [
                "`BPF_LINK_CREATE` for uprobe.multi (the `uprobe_multi` member; its `cnt` and `flags` are",
                "``count`` and ``uprobeMultiFlags``).",
            ],
            renames: ["uprobe_multi.cnt": "count"]),
        StructRecipe(
            swiftName: "LinkUpdateAttr", source: "bpf_attr", path: ["link_update"],
            doc: ["Attributes of `BPF_LINK_UPDATE`."]),
        StructRecipe(
            swiftName: "LinkDetachAttr", source: "bpf_attr", path: ["link_detach"],
            doc: ["Attributes of `BPF_LINK_DETACH`."]),
        StructRecipe(
            swiftName: "IterCreateAttr", source: "bpf_attr", path: ["iter_create"],
            doc: ["Attributes of `BPF_ITER_CREATE`."]),
        StructRecipe(
            swiftName: "RawTracepointOpenAttr", source: "bpf_attr", path: ["raw_tracepoint"],
            doc: ["Attributes of `BPF_RAW_TRACEPOINT_OPEN`."]),
        StructRecipe(
            swiftName: "TaskFDQueryAttr", source: "bpf_attr", path: ["task_fd_query"],
            doc: [
                "Attributes of `BPF_TASK_FD_QUERY`: what a task's descriptor of a perf event or raw",
                "tracepoint is attached to. The kernel writes `buf_len`, `prog_id`, `fd_type`,",
                "`probe_offset` and `probe_addr`.",
            ]),
    ]

    private static func linkCreate(
        _ name: String, choice: String, doc: [String], renames: [String: String] = [:],
        aliases: [StructRecipe.Alias] = []
    ) -> StructRecipe {
        StructRecipe(
            swiftName: name, source: "bpf_attr", path: ["link_create"], doc: doc,
            conformances: "LinkCreateAttributes", choices: [choice], renames: renames, aliases: aliases)
    }
}
