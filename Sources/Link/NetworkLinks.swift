import EBPFCollection
import Synchronization
import EBPFSys
import Glibc

/// Cgroup attachments: a program on a cgroup v2 directory, as a link (Linux 5.7) or with the
/// legacy `BPF_PROG_ATTACH` and its flags.
public enum Cgroup {
    /// How a legacy attachment shares the cgroup with others (`BPF_F_ALLOW_OVERRIDE`,
    /// `BPF_F_ALLOW_MULTI`).
    public struct AttachFlags: OptionSet, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `BPF_F_ALLOW_OVERRIDE`.
        public static let allowOverride = AttachFlags(rawValue: 1 << 0)
        /// `BPF_F_ALLOW_MULTI`.
        public static let allowMulti = AttachFlags(rawValue: 1 << 1)
    }

    /// Attaches `program` to the cgroup at `path` (such as `/sys/fs/cgroup/my.slice`) for
    /// `attachType` with a link; closing the link detaches.
    public static func attach(path: String, attachType: AttachType, program: Program) throws(LinkError) -> RawLink {
        let hook = "cgroup \(path) (attach type \(attachType.rawValue))"
        let cgroup = try openDirectory(path, what: "cgroup")
        return try Features.withProgram(program, [program.type], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            var attributes = LinkCreateCgroupAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.targetFD = UInt32(bitPattern: cgroup.rawValue)
            attributes.attachType = attachType.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }

    /// Attaches with `BPF_PROG_ATTACH` (the only way before Linux 5.7); the returned value
    /// detaches with `BPF_PROG_DETACH` when closed.
    public static func attachLegacy(
        path: String, attachType: AttachType, program: Program, flags: AttachFlags = .allowMulti
    ) throws(LinkError) -> LegacyAttachment {
        let hook = "cgroup \(path) (attach type \(attachType.rawValue), legacy)"
        let cgroup = try openDirectory(path, what: "cgroup")
        // The attachment's own program reference for the detach, taken before attaching so that
        // nothing stays attached when it cannot be taken.
        let clone = try Features.clone(program, hook: hook)
        try Features.withProgram(program, [program.type], hook: hook) { (descriptor) throws(LinkError) in
            var attributes = ProgAttachAttr()
            attributes.targetFD = UInt32(bitPattern: cgroup.rawValue)
            attributes.attachBPFFD = UInt32(bitPattern: descriptor)
            attributes.attachType = attachType.rawValue
            attributes.attachFlags = flags.rawValue
            do throws(BPFSyscallError) { try Sys.progAttach(attributes) } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
        return LegacyAttachment(target: cgroup, attachType: attachType, program: clone, hook: hook)
    }

    static func openDirectory(_ path: String, what: String) throws(LinkError) -> FileDescriptor {
        let raw: Int32
        switch SystemCalls.open(path, flags: O_RDONLY | O_DIRECTORY) {
        case .success(let descriptor): raw = descriptor
        case .failure(let error): throw .system(operation: "open \(what) \(path)", errno: error)
        }
        do { return try FileDescriptor(adopting: raw) } catch { throw .system(operation: "open \(what) \(path)", errno: error) }
    }
}

/// A program attached with `BPF_PROG_ATTACH` (no kernel link object): closing detaches it with
/// `BPF_PROG_DETACH`.
public final class LegacyAttachment: Link {
    private let target: OwnedRawDescriptor
    let attachType: AttachType
    let program: Program
    let hook: String

    init(target: consuming FileDescriptor, attachType: AttachType, program: Program, hook: String) {
        self.target = OwnedRawDescriptor(target)
        self.attachType = attachType
        self.program = program
        self.hook = hook
    }

    public var isClosed: Bool { target.isClosed }

    public func close() throws(LinkError) {
        guard let targetNumber = target.takeRawForClose() else { return }
        defer { SystemCalls.close(targetNumber) }
        let detached: Void? = try program.withFileDescriptorValue { (descriptor) throws(LinkError) in
            var attributes = ProgDetachAttr()
            attributes.targetFD = UInt32(bitPattern: targetNumber)
            attributes.attachBPFFD = UInt32(bitPattern: descriptor)
            attributes.attachType = attachType.rawValue
            do throws(BPFSyscallError) { try Sys.progDetach(attributes) } catch {
                throw .syscall(operation: "detach \(hook)", error: error)
            }
        }
        _ = try? program.close()
        if detached == nil { throw .programClosed(program: program.name, hook: hook) }
    }

    public func info() throws(LinkError) -> LinkInfo {
        throw .notSupported(
            feature: "link info", requirement: "a link (BPF_LINK_CREATE)",
            detail: "\(hook) was attached with BPF_PROG_ATTACH and has no link object")
    }

    deinit { _ = try? close() }
}

/// A raw descriptor number behind a lock, closed by its taker.
final class OwnedRawDescriptor: Sendable {
    private let descriptor: Synchronization.Mutex<Int32>

    init(_ fd: consuming FileDescriptor) { descriptor = .init(fd.relinquish()) }

    var isClosed: Bool { descriptor.withLock { $0 < 0 } }

    func takeRawForClose() -> Int32? {
        descriptor.withLock { value in
            defer { value = -1 }
            return value >= 0 ? value : nil
        }
    }
}

/// XDP: a program on a network interface's receive path, as a link (Linux 5.9).
public enum XDP {
    /// Where the program runs (`XDP_FLAGS_*`); empty lets the kernel pick the driver mode when
    /// the driver supports it and the generic mode otherwise.
    public struct Mode: OptionSet, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `XDP_FLAGS_SKB_MODE`: generic, in the network stack; works on any interface.
        public static let generic = Mode(rawValue: 1 << 1)
        /// `XDP_FLAGS_DRV_MODE`: in the driver.
        public static let driver = Mode(rawValue: 1 << 2)
        /// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
        public static let hardware = Mode(rawValue: 1 << 3)
    }

    /// Attaches `program` to the interface with index `interfaceIndex`.
    public static func attach(interfaceIndex: UInt32, program: Program, mode: Mode = []) throws(LinkError) -> RawLink {
        let hook = "XDP on interface \(interfaceIndex)"
        return try Features.withProgram(program, [.xdp], hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            var attributes = LinkCreateAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.targetFD = interfaceIndex
            attributes.attachType = AttachType.xdp.rawValue
            attributes.flags = mode.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }

    /// Attaches `program` to the interface named `interfaceName` (such as `lo`).
    public static func attach(interfaceName: String, program: Program, mode: Mode = []) throws(LinkError) -> RawLink {
        try attach(interfaceIndex: try NetworkInterface.index(of: interfaceName), program: program, mode: mode)
    }
}

/// Socket filters: a `BPF_PROG_TYPE_SOCKET_FILTER` program on a socket (`SO_ATTACH_BPF`).
public enum SocketFilter {
    /// `SO_ATTACH_BPF`.
    static let attachOption: Int32 = 50
    /// `SO_DETACH_BPF` (the same number as `SO_DETACH_FILTER`).
    static let detachOption: Int32 = 27

    /// Attaches `program` to the socket `socket`; it stays until ``detach(fromSocket:)`` or the
    /// socket closes. The socket holds its own reference to the program.
    public static func attach(program: Program, toSocket socket: Int32) throws(LinkError) {
        let hook = "socket \(socket)"
        try Features.withProgram(program, [.socketFilter], hook: hook) { (descriptor) throws(LinkError) in
            if case .failure(let error) = SystemCalls.setSocketOption(socket, level: SOL_SOCKET, option: attachOption, value: descriptor) {
                throw .system(operation: "setsockopt SO_ATTACH_BPF on \(hook)", errno: error)
            }
        }
    }

    /// Removes the socket's filter (`SO_DETACH_BPF`).
    public static func detach(fromSocket socket: Int32) throws(LinkError) {
        if case .failure(let error) = SystemCalls.setSocketOption(socket, level: SOL_SOCKET, option: detachOption, value: Int32(0)) {
            throw .system(operation: "setsockopt SO_DETACH_BPF on socket \(socket)", errno: error)
        }
    }
}
