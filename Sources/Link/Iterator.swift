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
    public init(program: Program, map: Map? = nil) throws(LinkError) {
        let hook = "iterator \(program.name)"
        link = try Features.withProgram(program, [.tracing], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            var mapNumber: UInt32 = 0
            if let map {
                guard let number = map.withFileDescriptorValue({ $0 }) else {
                    throw .invalidOption("the map for \(hook) is closed")
                }
                mapNumber = UInt32(bitPattern: number)
            }
            var info = mapNumber  // union bpf_iter_link_info starts with map.map_fd
            var attributes = LinkCreateIterAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = AttachType.traceIter.rawValue
            let result = withUnsafeMutableBytes(of: &info) { bytes in
                if map != nil {
                    attributes.iterInfo = Sys.address(of: bytes.baseAddress)
                    attributes.iterInfoLen = UInt32(MemoryLayout<UInt32>.size)
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
