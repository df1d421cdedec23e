// The short lower-case names bpftool and libbpf print (`libbpf_bpf_prog_type_str` and friends):
// the kernel's enum name without its prefix. Unknown values print as their number.

extension ProgramType {
    /// The name without `BPF_PROG_TYPE_`, in lower case (`kprobe`, `sched_cls`), as bpftool prints it.
    public var shortName: String { shortened(description, prefix: "BPF_PROG_TYPE_", rawValue: rawValue) }
}

extension MapType {
    /// The name without `BPF_MAP_TYPE_`, in lower case (`percpu_array`, `ringbuf`), as bpftool prints it.
    public var shortName: String { shortened(description, prefix: "BPF_MAP_TYPE_", rawValue: rawValue) }
}

extension AttachType {
    /// The name without `BPF_`, in lower case (`trace_fentry`, `cgroup_inet_ingress`), as bpftool prints it.
    public var shortName: String { shortened(description, prefix: "BPF_", rawValue: rawValue) }
}

extension LinkType {
    /// The name without `BPF_LINK_TYPE_`, in lower case (`raw_tracepoint`, `perf_event`), as bpftool prints it.
    public var shortName: String { shortened(description, prefix: "BPF_LINK_TYPE_", rawValue: rawValue) }
}

private func shortened(_ name: String, prefix: String, rawValue: UInt32) -> String {
    guard name.hasPrefix(prefix), !name.hasSuffix(")") else { return String(rawValue) }
    return String(name.dropFirst(prefix.count)).lowercased()
}
