import EBPFCollection
import EBPFSys
import Glibc

/// BPF iterators: a ``ProgramType/tracing`` program loaded with the attach type
/// ``AttachType/traceIter`` for an iterator target (`bpf_iter_task`, `bpf_iter_bpf_map`...)
/// runs once per object each time the iterator is read, and writes what the reader sees with
/// `bpf_seq_write`/`bpf_seq_printf`. Requires Linux 5.8.
///
/// ```swift
/// let iterator = try Iterator(program: dumpTasks)
/// let text = try iterator.readAll()
/// ```
public final class Iterator: Link {
    /// The iterator link.
    public let link: RawLink

    /// Creates the iterator link for `program`. Iterators over one map's elements
    /// (`bpf_map_elem`, `bpf_sk_storage_map`, `sockmap`) need `map`; the kernel refuses them
    /// without one.
    public convenience init(program: Program, map: Map? = nil) throws(LinkError) {
        try self.init(program: program, options: map.map { .map($0) })
    }

    /// Creates the iterator link for `program` with what `options` narrows it to: the map of a
    /// map element iterator, the thread or process of a `task`, `task_file` or `task_vma`
    /// iterator, the cgroup and walk order of a `cgroup` iterator.
    ///
    /// ```swift
    /// let files = try Iterator(program: dumpFiles, options: .process(getpid()))
    /// ```
    public init(program: Program, options: IteratorOptions?) throws(LinkError) {
        let hook = "iterator \(program.name)"
        link = try Features.withProgram(program, [.tracing], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            // union bpf_iter_link_info: map { map_fd }, cgroup { order, cgroup_fd, cgroup_id },
            // task { tid, pid, pid_fd }; 16 bytes since Linux 6.1, 4 (the map) before.
            var info: (UInt32, UInt32, UInt64) = (0, 0, 0)
            var length = 0
            switch options {
            case nil: break
            case .map(let map)?:
                guard let number = map.withFileDescriptorValue({ $0 }) else {
                    throw .invalidOption("the map for \(hook) is closed")
                }
                info.0 = UInt32(bitPattern: number)
                length = MemoryLayout<UInt32>.size
            case .thread(let tid)?:
                guard tid > 0 else { throw .invalidOption("thread id \(tid) for \(hook) is not a thread id") }
                info.0 = UInt32(bitPattern: tid)
                length = MemoryLayout.size(ofValue: info)
            case .process(let pid)?:
                guard pid > 0 else { throw .invalidOption("process id \(pid) for \(hook) is not a process id") }
                info.1 = UInt32(bitPattern: pid)
                length = MemoryLayout.size(ofValue: info)
            case .processDescriptor(let pidfd)?:
                guard pidfd >= 0 else { throw .invalidOption("pidfd \(pidfd) for \(hook) is not a descriptor") }
                // task.pid_fd is the u32 at byte 8, the low half of the third field on either byte order.
                withUnsafeMutableBytes(of: &info) { $0.storeBytes(of: UInt32(bitPattern: pidfd), toByteOffset: 8, as: UInt32.self) }
                length = MemoryLayout.size(ofValue: info)
            case .cgroup(let cgroupDescriptor, let order)?:
                guard cgroupDescriptor >= 0 else { throw .invalidOption("cgroup descriptor \(cgroupDescriptor) for \(hook)") }
                info.0 = order.rawValue
                info.1 = UInt32(bitPattern: cgroupDescriptor)
                length = MemoryLayout.size(ofValue: info)
            case .cgroupID(let id, let order)?:
                info.0 = order.rawValue
                info.2 = id
                length = MemoryLayout.size(ofValue: info)
            }
            var attributes = LinkCreateIterAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = AttachType.traceIter.rawValue
            let result = withUnsafeMutableBytes(of: &info) { bytes in
                if length > 0 {
                    attributes.iterInfo = Sys.address(of: bytes.baseAddress)
                    attributes.iterInfoLen = UInt32(length)
                }
                return Result { () throws(BPFSyscallError) in try Sys.linkCreate(attributes).relinquish() }
            }
            switch result {
            case .success(let raw):
                do throws(Errno) { return RawLink(adopting: try FileDescriptor(adopting: raw)) } catch {
                    throw .system(operation: "adopt \(hook) link", errno: error)
                }
            case .failure(let error):
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }

    /// Opens a new read of the iterator (`BPF_ITER_CREATE`); each read runs the program again.
    public func open() throws(LinkError) -> FileDescriptor {
        let created = link.withDescriptor { (fd: borrowing FileDescriptor) -> Result<Int32, BPFSyscallError> in
            var attributes = IterCreateAttr()
            attributes.linkFD = UInt32(bitPattern: fd.rawValue)
            return Result { () throws(BPFSyscallError) in try Sys.iterCreate(attributes).relinquish() }
        }
        guard let created else { throw .closed }
        switch created {
        case .success(let raw):
            do throws(Errno) { return try FileDescriptor(adopting: raw) } catch {
                throw .system(operation: "open iterator", errno: error)
            }
        case .failure(let error):
            throw .syscall(operation: "open iterator", error: error)
        }
    }

    /// Runs the iterator once and returns everything it wrote.
    public func readAll() throws(LinkError) -> [UInt8] {
        var reader = try open()
        defer { try? reader.close() }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(reader.rawValue, $0.baseAddress, $0.count) }
            if count < 0 {
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                throw .system(operation: "read iterator", errno: error)
            }
            if count == 0 { return output }
            output.append(contentsOf: chunk[0..<count])
        }
    }

    public func close() throws(LinkError) { try link.close() }
    public var isClosed: Bool { link.isClosed }
    public func info() throws(LinkError) -> LinkInfo { try link.info() }
}

/// What an ``Iterator`` runs over, for iterator targets that take parameters.
public enum IteratorOptions: Sendable {
    /// The map of a map element iterator (`bpf_map_elem`, `bpf_sk_storage_map`, `sockmap`).
    case map(Map)
    /// Only this thread, for `task`, `task_file` and `task_vma` iterators. Requires Linux 6.1.
    case thread(Int32)
    /// Only the threads of this process. Requires Linux 6.1.
    case process(Int32)
    /// Only the threads of the process this pidfd refers to. Requires Linux 6.1.
    case processDescriptor(Int32)
    /// A `cgroup` iterator starting at the cgroup open as `descriptor`, walking in `order`.
    /// Requires Linux 6.1.
    case cgroup(descriptor: Int32, order: CgroupIteratorOrder)
    /// A `cgroup` iterator starting at the cgroup with this id. Requires Linux 6.1.
    case cgroupID(UInt64, order: CgroupIteratorOrder)
}

/// The order a `cgroup` iterator walks in (`enum bpf_cgroup_iter_order`).
public struct CgroupIteratorOrder: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_CGROUP_ITER_SELF_ONLY`: the cgroup alone.
    public static let selfOnly = CgroupIteratorOrder(rawValue: 1)
    /// `BPF_CGROUP_ITER_DESCENDANTS_PRE`: the cgroup and its descendants, parents first.
    public static let descendantsPreOrder = CgroupIteratorOrder(rawValue: 2)
    /// `BPF_CGROUP_ITER_DESCENDANTS_POST`: the cgroup and its descendants, children first.
    public static let descendantsPostOrder = CgroupIteratorOrder(rawValue: 3)
    /// `BPF_CGROUP_ITER_ANCESTORS_UP`: the cgroup and its ancestors up to the root.
    public static let ancestorsUp = CgroupIteratorOrder(rawValue: 4)
}
