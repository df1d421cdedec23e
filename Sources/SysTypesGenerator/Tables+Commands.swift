// One `Sys` function per bpf command whose call is uniform. `BPF_PROG_LOAD` and `BPF_BTF_LOAD`
// retry with a log buffer and stay hand-written (Sys+Program.swift, Sys+Object.swift).

extension SysTypesGenerator {
    static let commandRecipes: [CommandRecipe] = [
        .init(
            command: "BPF_MAP_CREATE", attributes: "MapCreateAttr", shape: .descriptor,
            doc: ["creates a map and returns its descriptor."]),
        .init(
            command: "BPF_MAP_LOOKUP_ELEM", attributes: "MapLookupElemAttr", shape: .input,
            doc: ["copies the value stored under `key` to `value`. `ENOENT` if absent."]),
        .init(
            command: "BPF_MAP_UPDATE_ELEM", attributes: "MapUpdateElemAttr", shape: .input,
            doc: ["stores `value` under `key`; `flags` are `BPF_ANY`, `BPF_NOEXIST`,", "`BPF_EXIST` and `BPF_F_LOCK`."]),
        .init(
            command: "BPF_MAP_DELETE_ELEM", attributes: "MapDeleteElemAttr", shape: .input,
            doc: ["removes `key`. `ENOENT` if absent."]),
        .init(
            command: "BPF_MAP_LOOKUP_AND_DELETE_ELEM", attributes: "MapLookupAndDeleteElemAttr", shape: .input,
            doc: [
                "copies out and removes the value under `key` (for queues and",
                "stacks, the next element; `key` is then 0). Requires Linux 4.20 (5.14 for hash maps).",
            ]),
        .init(
            command: "BPF_MAP_GET_NEXT_KEY", attributes: "MapGetNextKeyAttr", shape: .input,
            doc: [
                "writes the key after `key` (the first key when `key` is 0) to",
                "`next_key`. `ENOENT` after the last key.",
            ]),
        .init(
            command: "BPF_MAP_LOOKUP_BATCH", attributes: "MapLookupBatchAttr", shape: .updating,
            doc: [
                "copies up to `count` elements, starting after the `in_batch` token",
                "(or at the start when it is 0); writes the next token to `out_batch` and the number copied to",
                "`count`. `ENOENT` when the end was reached (`count` still says how many were copied).",
                "Requires Linux 5.6.",
            ]),
        .init(
            command: "BPF_MAP_LOOKUP_AND_DELETE_BATCH", attributes: "MapLookupAndDeleteBatchAttr", shape: .updating,
            doc: ["as ``mapLookupBatch(_:)``, removing what it copies."]),
        .init(
            command: "BPF_MAP_UPDATE_BATCH", attributes: "MapUpdateBatchAttr", shape: .updating,
            doc: ["stores `count` key/value pairs; on return `count` is the number", "stored, also when it fails part way."]),
        .init(
            command: "BPF_MAP_DELETE_BATCH", attributes: "MapDeleteBatchAttr", shape: .updating,
            doc: ["removes `count` keys; on return `count` is the number removed."]),
        .init(
            command: "BPF_MAP_FREEZE", attributes: "MapFreezeAttr", shape: .input,
            doc: ["makes the map read-only for user space from now on. Requires Linux 5.2."]),
        .init(
            command: "BPF_PROG_TEST_RUN", attributes: "ProgTestRunAttr", shape: .updating,
            doc: ["runs a program once or `repeat` times on the given input."]),
        .init(
            command: "BPF_PROG_ATTACH", attributes: "ProgAttachAttr", shape: .input,
            doc: ["attaches a program to a cgroup, socket map, network namespace and the like."]),
        .init(
            command: "BPF_PROG_DETACH", attributes: "ProgDetachAttr", shape: .input,
            doc: ["detaches what ``progAttach(_:)`` attached."]),
        .init(
            command: "BPF_PROG_QUERY", attributes: "ProgQueryAttr", shape: .updating,
            doc: ["lists the programs attached to a target; the kernel fills the arrays and", "sets `prog_cnt` to the number attached."]),
        .init(
            command: "BPF_PROG_BIND_MAP", attributes: "ProgBindMapAttr", shape: .input,
            doc: ["keeps a map alive as long as the program. Requires Linux 5.10."]),
        .init(
            command: "BPF_PROG_STREAM_READ_BY_FD", attributes: "ProgStreamReadByFDAttr", shape: .updatingCount,
            doc: [
                "copies up to `stream_buf_len` bytes of the program's stream `stream_id`",
                "(1 is stdout, 2 stderr) to `stream_buf` and returns how many it copied. Requires Linux 6.17.",
            ]),
        .init(
            command: "BPF_OBJ_PIN", attributes: "ObjPinAttr", shape: .input,
            doc: ["pins the object to a path on a BPF file system."]),
        .init(command: "BPF_OBJ_GET", attributes: "ObjGetAttr", shape: .descriptor, doc: ["opens a pinned object."]),
        .init(
            command: "BPF_PROG_GET_NEXT_ID", attributes: "ProgGetNextIDAttr", shape: .updating,
            doc: ["the next program ID after `start_id`, in `next_id`."]),
        .init(
            command: "BPF_MAP_GET_NEXT_ID", attributes: "MapGetNextIDAttr", shape: .updating,
            doc: ["the next map ID after `start_id`, in `next_id`."]),
        .init(
            command: "BPF_BTF_GET_NEXT_ID", attributes: "BTFGetNextIDAttr", shape: .updating,
            doc: ["the next BTF ID after `start_id`, in `next_id`."]),
        .init(
            command: "BPF_LINK_GET_NEXT_ID", attributes: "LinkGetNextIDAttr", shape: .updating,
            doc: ["the next link ID after `start_id`, in `next_id`."]),
        .init(
            command: "BPF_PROG_GET_FD_BY_ID", attributes: "ProgGetFDByIDAttr", shape: .descriptor,
            doc: ["opens the program with ID `prog_id`."]),
        .init(
            command: "BPF_MAP_GET_FD_BY_ID", attributes: "MapGetFDByIDAttr", shape: .descriptor,
            doc: ["opens the map with ID `map_id`."]),
        .init(
            command: "BPF_BTF_GET_FD_BY_ID", attributes: "BTFGetFDByIDAttr", shape: .descriptor,
            doc: ["opens the BTF object with ID `btf_id`."]),
        .init(
            command: "BPF_LINK_GET_FD_BY_ID", attributes: "LinkGetFDByIDAttr", shape: .descriptor,
            doc: ["opens the link with ID `link_id`."]),
        .init(
            command: "BPF_OBJ_GET_INFO_BY_FD", attributes: "ObjGetInfoByFDAttr", shape: .updating,
            doc: ["fills the info struct `info` points to, up to `info_len` bytes, and", "sets `info_len` to the bytes filled."]),
        .init(
            command: "BPF_ENABLE_STATS", attributes: "EnableStatsAttr", shape: .descriptor,
            doc: ["turns on run-time statistics for all programs while the returned", "descriptor is open. Requires Linux 5.8."]),
        .init(
            command: "BPF_TOKEN_CREATE", attributes: "TokenCreateAttr", shape: .descriptor,
            doc: [
                "creates a BPF token from a BPF file system mounted with delegation",
                "options (`bpffs_fd` is a descriptor of its root). Requires Linux 6.9.",
            ]),
        .init(
            command: "BPF_LINK_CREATE", attributes: "Attributes", shape: .genericDescriptor(protocol: "LinkCreateAttributes"),
            doc: [
                "attaches a program and returns the link's descriptor; closing the last",
                "descriptor of the link detaches it (unless pinned). Requires Linux 5.7.",
            ]),
        .init(
            command: "BPF_LINK_UPDATE", attributes: "LinkUpdateAttr", shape: .input,
            doc: ["replaces a link's program."]),
        .init(
            command: "BPF_LINK_DETACH", attributes: "LinkDetachAttr", shape: .input,
            doc: ["detaches a link while its descriptor stays open. Requires Linux 5.9."]),
        .init(
            command: "BPF_ITER_CREATE", attributes: "IterCreateAttr", shape: .descriptor,
            doc: ["opens a new iterator for an iterator link; reading it runs the program."]),
        .init(
            command: "BPF_RAW_TRACEPOINT_OPEN", attributes: "RawTracepointOpenAttr", shape: .descriptor,
            doc: ["attaches a raw tracepoint program; returns the link's descriptor."]),
        .init(
            command: "BPF_TASK_FD_QUERY", attributes: "TaskFDQueryAttr", shape: .updating,
            doc: [
                "describes what a task's descriptor (`pid`, `fd`) of a perf event or raw",
                "tracepoint is attached to. Requires Linux 4.18.",
            ]),
    ]
}
