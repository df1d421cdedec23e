import EBPFSys
import Synchronization

/// Why BTF could not be loaded into the kernel, or a loaded BTF object could not be used.
public enum BTFLoadError: Error, Sendable, CustomStringConvertible {
    /// The types could not be written as a blob.
    case marshalling(BTFMarshalError)
    /// `BPF_BTF_LOAD` failed. The error carries the kernel's BTF checker log (requested when the
    /// first attempt failed) and, for `EPERM`, the missing capability as a hint.
    case rejected(BPFSyscallError)
    /// A command on a loaded BTF object failed.
    case command(BPFSyscallError)
    /// A feature probe could not tell: its `BPF_BTF_LOAD` failed with something other than
    /// `EINVAL` (usually `EPERM`: the process lacks `CAP_BPF`).
    case probeFailed(feature: BTFFeatures, BPFSyscallError)
    /// Duplicating the descriptor failed.
    case duplicateFailed(Errno)
    /// The handle was closed.
    case closed

    /// The kernel's log for a rejected blob.
    public var kernelLog: String? {
        switch self {
        case .rejected(let error), .command(let error), .probeFailed(_, let error): error.log
        case .marshalling, .duplicateFailed, .closed: nil
        }
    }

    public var description: String {
        switch self {
        case .marshalling(let error): "\(error)"
        case .rejected(let error):
            if let log = error.log, !log.isEmpty { "load BTF: \(error)\n\(log)" } else { "load BTF: \(error)" }
        case .command(let error): "BTF object: \(error)"
        case .probeFailed(let feature, let error): "probe BTF feature \(feature): \(error)"
        case .duplicateFailed(let errno): "duplicate BTF descriptor: \(errno)"
        case .closed: "the BTF handle is closed"
        }
    }
}

/// BTF loaded into the kernel (`BPF_BTF_LOAD`): the owner of its file descriptor, which maps and
/// programs name as `btf_fd` to describe their types.
///
/// The descriptor is closed by `close()` or when the handle goes away. Requires `CAP_BPF` (or
/// `CAP_SYS_ADMIN`) and Linux 4.18; which kinds the kernel accepts depends on its version (see
/// `BTFFeatures` and `BTFTypeGraph.sanitized(for:)`).
///
/// ```swift
/// let handle = try BTFHandle(spec: try BTFSpec(path: "/sys/kernel/btf/vmlinux"))
/// print(try handle.id())
/// ```
public final class BTFHandle: Sendable {
    private let descriptor: Mutex<FileDescriptor>

    /// Loads a BTF blob as it is, with the BPF `token` (from `BPF_TOKEN_CREATE`) when given.
    ///
    /// On failure the error carries the kernel's log.
    public init(bytes: [UInt8], token: Int32? = nil) throws(BTFLoadError) {
        do {
            descriptor = Mutex(try Sys.loadBTF(bytes, token: token))
        } catch {
            throw .rejected(error)
        }
    }

    /// Marshals the builder's types and loads them.
    public convenience init(builder: BTFBuilder) throws(BTFLoadError) {
        let bytes: [UInt8]
        do {
            bytes = try builder.bytes(byteOrder: .host)
        } catch {
            throw .marshalling(error)
        }
        try self.init(bytes: bytes)
    }

    /// Marshals a type graph (its own types; split BTF needs its `base`) and loads it.
    public convenience init(graph: BTFTypeGraph, base: BTFSpec? = nil) throws(BTFLoadError) {
        let bytes: [UInt8]
        do {
            bytes = try graph.marshal(byteOrder: .host, base: base)
        } catch {
            throw .marshalling(error)
        }
        try self.init(bytes: bytes)
    }

    /// Marshals `spec` from its type graph and loads it. The spec is loaded as it is: sanitise it
    /// first (`BTFTypeGraph.sanitized(for:)`) for kernels that lack some of its kinds.
    public convenience init(spec: BTFSpec) throws(BTFLoadError) {
        let bytes: [UInt8]
        do {
            bytes = try spec.marshal(byteOrder: .host)
        } catch {
            throw .marshalling(error)
        }
        try self.init(bytes: bytes)
    }

    /// Sanitises `spec` for what `probes` says the kernel accepts (probing only the kinds the spec
    /// uses), marshals it from its graph and loads it: what a loader does with an object's BTF.
    public convenience init(spec: BTFSpec, probes: BTFFeatureProbes) throws(BTFLoadError) {
        try self.init(graph: try spec.sanitizedGraph(probes: probes), base: spec.base)
    }

    /// Takes ownership of a descriptor of a BTF object, for instance from `Sys.openObject(.btf, id:)`.
    public init(adopting descriptor: consuming FileDescriptor) {
        self.descriptor = Mutex(descriptor)
    }

    /// Whether `close()` ran.
    public var isClosed: Bool { descriptor.withLock { $0.isClosed } }

    /// Closes the descriptor now; the kernel frees the BTF once nothing else refers to it. Calling it
    /// again does nothing.
    public func close() throws(Errno) {
        try descriptor.withLock { (descriptor) throws(Errno) in try descriptor.close() }
    }

    /// Runs `body` with the descriptor, for passing it to a bpf command (`btf_fd`). Do not close it
    /// or keep its number beyond `body`.
    public func withDescriptor<R: ~Copyable>(_ body: (borrowing FileDescriptor) throws(BTFLoadError) -> R) throws(BTFLoadError) -> R {
        try descriptor.withLock { (descriptor) throws(BTFLoadError) -> R in
            guard !descriptor.isClosed else { throw .closed }
            return try body(descriptor)
        }
    }

    /// A descriptor of its own for the same BTF object, for a caller that must keep it longer.
    public func duplicateDescriptor() throws(BTFLoadError) -> FileDescriptor {
        try withDescriptor { (descriptor) throws(BTFLoadError) -> FileDescriptor in
            do throws(Errno) {
                return try descriptor.duplicate()
            } catch {
                throw .duplicateFailed(error)
            }
        }
    }

    /// The kernel's `struct bpf_btf_info` for this object (`BPF_OBJ_GET_INFO_BY_FD`), without
    /// the blob itself.
    public func info() throws(BTFLoadError) -> BTFInfo {
        try withDescriptor { (descriptor) throws(BTFLoadError) -> BTFInfo in
            do throws(BPFSyscallError) {
                return try Sys.objectInfo(of: descriptor, as: BTFInfo.self)
            } catch {
                throw .command(error)
            }
        }
    }

    /// The kernel-wide id of this BTF object (`bpf_btf_info.id`).
    public func id() throws(BTFLoadError) -> UInt32 {
        try info().id
    }
}
