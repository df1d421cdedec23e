import EBPFCollection
import EBPFSys

// Describing and pinning the perf-event-based links (kprobe, uprobe, tracepoint). Since Linux
// 5.15 these are kernel link objects (`BPF_LINK_CREATE` on a perf event) that can be described
// and pinned like any other; attached with `PERF_EVENT_IOC_SET_BPF` on older kernels they are not.

extension PerfEventLinkState {
    /// Runs `body` with the bpf link's descriptor number.
    func withBPFLink<Result>(
        _ operation: String, _ body: (Int32) throws(BPFSyscallError) -> Result
    ) throws(LinkError) -> Result {
        let outcome = attachment.withLock { (value: inout PerfEventAttachment?) -> Swift.Result<Result, LinkError> in
            guard value != nil else { return .failure(.closed) }
            guard let number = value?.bpfLinkNumber else {
                return .failure(
                    .notSupported(
                        feature: "\(operation) for perf events", requirement: "Linux 5.15 (BPF_LINK_CREATE for perf events)",
                        detail: "\(hook) was attached with PERF_EVENT_IOC_SET_BPF"))
            }
            do throws(BPFSyscallError) {
                return .success(try body(number))
            } catch {
                return .failure(.syscall(operation: "\(operation) \(hook)", error: error))
            }
        }
        return try outcome.get()
    }

    func describe() throws(LinkError) -> LinkDescription {
        try withBPFLink("describe") { (number) throws(BPFSyscallError) in try LinkDescription(descriptorValue: number) }
    }

    func pin(at path: String) throws(LinkError) {
        // An event this process wrote to tracefs is removed again when the link closes, which
        // would leave the pin attached to nothing.
        if usesTracefs {
            throw .notSupported(
                feature: "pinning a tracefs-created probe", requirement: "the kprobe or uprobe PMU",
                detail: "\(hook) is a tracefs event that is removed when this link closes")
        }
        try withBPFLink("pin at \(path)") { (number) throws(BPFSyscallError) in try Sys.pin(descriptorValue: number, at: path) }
    }
}

extension Kprobe {
    /// The link's info decoded: function, offset, address, missed count and cookie (Linux 6.6).
    public func describe() throws(LinkError) -> LinkDescription { try state.describe() }

    /// Pins the link at `path` on a BPF file system: the probe stays attached after this process
    /// closes it, until the pin is removed. Requires Linux 5.15 and the kprobe PMU.
    public func pin(at path: String) throws(LinkError) { try state.pin(at: path) }
}

extension Uprobe {
    /// The link's info decoded: file, offset and cookie (Linux 6.6).
    public func describe() throws(LinkError) -> LinkDescription { try state.describe() }

    /// Pins the link at `path` on a BPF file system: the probe stays attached after this process
    /// closes it, until the pin is removed. Requires Linux 5.15 and the uprobe PMU.
    public func pin(at path: String) throws(LinkError) { try state.pin(at: path) }
}

extension Tracepoint {
    /// The link's info decoded: tracepoint name and cookie (Linux 6.6).
    public func describe() throws(LinkError) -> LinkDescription { try state.describe() }

    /// Pins the link at `path` on a BPF file system: the program stays attached after this
    /// process closes it, until the pin is removed. Requires Linux 5.15.
    public func pin(at path: String) throws(LinkError) { try state.pin(at: path) }
}

extension Link {
    /// The link's info decoded for its type, opening the link by its ID (needs CAP_SYS_ADMIN).
    public func describe() throws(LinkError) -> LinkDescription {
        let id = try info().id
        do {
            return try LinkDescription(id: id)
        } catch {
            throw .syscall(operation: "describe link \(id)", error: error)
        }
    }
}
