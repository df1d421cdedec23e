import EBPFCollection
import EBPFSys
import Glibc
import Synchronization

/// An attached program. Closing the link detaches the program (unless the link is pinned); a link
/// the caller drops is closed then.
public protocol Link: AnyObject, Sendable {
    /// Detaches now. Calling it again does nothing.
    func close() throws(LinkError)

    /// Whether ``close()`` ran.
    var isClosed: Bool { get }

    /// What the kernel reports about the link (`BPF_OBJ_GET_INFO_BY_FD`).
    /// - Throws: ``LinkError/notSupported(feature:requirement:detail:)`` for a program attached
    ///   without a kernel link object (a perf event on a kernel before 5.15).
    func info() throws(LinkError) -> LinkInfo
}

/// A kernel link object (`bpf_link`) known only by its descriptor: what `BPF_LINK_CREATE`,
/// `BPF_RAW_TRACEPOINT_OPEN`, a pin or a link id gives. Every bpf-link-based attachment in this
/// module is one.
///
/// ```swift
/// let link = try RawLink(pinnedAt: "/sys/fs/bpf/my_link")
/// print(try link.info().progID)
/// ```
public final class RawLink: Link {
    private let descriptor: Mutex<FileDescriptor?>

    /// Takes ownership of a link descriptor.
    public init(adopting descriptor: consuming FileDescriptor) {
        self.descriptor = Mutex(Optional(descriptor))
    }

    /// Opens the link pinned at `path` on a BPF file system.
    public convenience init(pinnedAt path: String) throws(LinkError) {
        do {
            self.init(adopting: try Sys.openPinned(at: path))
        } catch {
            throw .syscall(operation: "open pinned link \(path)", error: error)
        }
    }

    /// Opens the link with kernel id `id` (`BPF_LINK_GET_FD_BY_ID`).
    public convenience init(id: UInt32) throws(LinkError) {
        do {
            self.init(adopting: try Sys.openObject(.link, id: id))
        } catch {
            throw .syscall(operation: "open link id \(id)", error: error)
        }
    }

    public var isClosed: Bool { descriptor.withLock { $0 == nil } }

    public func close() throws(LinkError) {
        guard var taken = descriptor.withLock({ $0.take() }) else { return }
        do { try taken.close() } catch { throw .system(operation: "close link", errno: error) }
    }

    /// Runs `body` with the link's descriptor, which stays owned by the link.
    public func withDescriptor<Result, Failure: Error>(
        _ body: (borrowing FileDescriptor) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        try descriptor.withLock { (value: inout FileDescriptor?) throws(Failure) -> Result? in
            switch value {
            case .some(let fd): return try body(fd)
            case .none: return nil
            }
        }
    }

    private func perform<Result>(
        _ operation: String, _ body: (borrowing FileDescriptor) throws(BPFSyscallError) -> Result
    ) throws(LinkError) -> Result {
        let outcome = withDescriptor { (fd: borrowing FileDescriptor) -> Swift.Result<Result, BPFSyscallError> in
            do throws(BPFSyscallError) { return .success(try body(fd)) } catch { return .failure(error) }
        }
        guard let outcome else { throw .closed }
        switch outcome {
        case .success(let value): return value
        case .failure(let error): throw .syscall(operation: operation, error: error)
        }
    }

    public func info() throws(LinkError) -> LinkInfo {
        try perform("link info") { (fd: borrowing FileDescriptor) throws(BPFSyscallError) in
            try Sys.objectInfo(of: fd, as: LinkInfo.self)
        }
    }

    /// Pins the link at `path` on a BPF file system: it stays attached after this process closes
    /// it, until the pin is removed (`unlink`).
    public func pin(at path: String) throws(LinkError) {
        try perform("pin link at \(path)") { (fd: borrowing FileDescriptor) throws(BPFSyscallError) in
            try Sys.pin(fd, at: path)
        }
    }

    /// Replaces the link's program (`BPF_LINK_UPDATE`), for the link kinds that allow it (cgroup,
    /// XDP, tcx, netns, iterator and struct_ops links).
    public func update(program new: Program) throws(LinkError) {
        let done: Void? = try new.withFileDescriptorValue { (number) throws(LinkError) in
            try update(newProgram: number, expectedProgram: nil)
        }
        if done == nil { throw .programClosed(program: new.name, hook: "link update") }
    }

    /// Replaces the link's program only if it still runs `old` (`BPF_F_REPLACE`); otherwise the
    /// kernel refuses with `EPERM`.
    public func update(program new: Program, replacing old: Program) throws(LinkError) {
        let done: Void?? = try new.withFileDescriptorValue { (newNumber) throws(LinkError) in
            try old.withFileDescriptorValue { (oldNumber) throws(LinkError) in
                try update(newProgram: newNumber, expectedProgram: oldNumber)
            }
        }
        guard case .some(.some) = done else { throw .programClosed(program: new.name, hook: "link update") }
    }

    private func update(newProgram: Int32, expectedProgram: Int32?) throws(LinkError) {
        var attributes = LinkUpdateAttr()
        attributes.newProgFD = UInt32(bitPattern: newProgram)
        if let expectedProgram {
            attributes.oldProgFD = UInt32(bitPattern: expectedProgram)
            attributes.flags = 1 << 2  // BPF_F_REPLACE
        }
        try perform("update link") { (fd: borrowing FileDescriptor) throws(BPFSyscallError) in
            attributes.linkFD = UInt32(bitPattern: fd.rawValue)
            try Sys.linkUpdate(attributes)
        }
    }

    /// Detaches the program while the descriptor stays open (`BPF_LINK_DETACH`, Linux 5.9); the
    /// link then reports no program, and pins of it no longer keep anything attached.
    public func detach() throws(LinkError) {
        try perform("detach link") { (fd: borrowing FileDescriptor) throws(BPFSyscallError) in
            var attributes = LinkDetachAttr()
            attributes.linkFD = UInt32(bitPattern: fd.rawValue)
            try Sys.linkDetach(attributes)
        }
    }

    /// A second descriptor for the link, owned by the caller.
    public func duplicateDescriptor() throws(LinkError) -> FileDescriptor {
        let copy = withDescriptor { (fd: borrowing FileDescriptor) -> Result<Int32, Errno> in
            Result { () throws(Errno) in try fd.duplicate().relinquish() }
        }
        guard let copy else { throw .closed }
        do throws(Errno) { return try FileDescriptor(adopting: try copy.get()) } catch {
            throw .system(operation: "dup link", errno: error)
        }
    }
}

/// Shared state of the perf-event-based links (kprobe, uprobe, tracepoint, perf event).
final class PerfEventLinkState: Sendable {
    let attachment: Mutex<PerfEventAttachment?>
    let hook: String

    init(_ attachment: consuming PerfEventAttachment, hook: String) {
        self.attachment = Mutex(Optional(attachment))
        self.hook = hook
    }

    var isClosed: Bool { attachment.withLock { $0 == nil } }

    func close() throws(LinkError) {
        guard var taken = attachment.withLock({ $0.take() }) else { return }
        if let failure = taken.close() { throw failure }
    }

    func info() throws(LinkError) -> LinkInfo {
        let result = attachment.withLock { (value: inout PerfEventAttachment?) -> Result<LinkInfo, LinkError> in
            guard let number = value?.bpfLinkNumber else {
                if value == nil { return .failure(.closed) }
                return .failure(
                    .notSupported(
                        feature: "link info for perf events", requirement: "Linux 5.15 (BPF_LINK_CREATE for perf events)",
                        detail: "\(hook) was attached with PERF_EVENT_IOC_SET_BPF"))
            }
            var info = LinkInfo()
            var attributes = ObjGetInfoByFDAttr()
            attributes.bpfFD = UInt32(bitPattern: number)
            attributes.infoLen = UInt32(MemoryLayout<LinkInfo>.size)
            let outcome = withUnsafeMutableBytes(of: &info) { bytes in
                attributes.info = Sys.address(of: bytes.baseAddress)
                return Result { () throws(BPFSyscallError) in try Sys.objGetInfoByFD(&attributes) }
            }
            switch outcome {
            case .success: return .success(info)
            case .failure(let error): return .failure(.syscall(operation: "info of \(hook)", error: error))
            }
        }
        return try result.get()
    }

    var usesTracefs: Bool { attachment.withLock { $0?.usesTracefs ?? false } }
    var usesBPFLink: Bool { attachment.withLock { $0?.usesBPFLink ?? false } }
    var tracefsEventName: String? { attachment.withLock { $0?.tracefsEventName } }

    deinit {
        _ = try? close()
    }
}
