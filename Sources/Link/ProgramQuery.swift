import EBPFCollection
import EBPFSys
import Glibc

/// One program attached to a hook, as `BPF_PROG_QUERY` reports it.
public struct AttachedProgram: Sendable, Hashable {
    /// The program's kernel id.
    public var programID: UInt32
    /// The id of the link that holds it, nil when it was attached without a link (`BPF_PROG_ATTACH`)
    /// or the kernel does not report link ids for the hook.
    public var linkID: UInt32?

    public init(programID: UInt32, linkID: UInt32? = nil) {
        self.programID = programID
        self.linkID = linkID
    }
}

/// What is attached to a hook, in the order the kernel runs it.
public struct AttachedPrograms: Sendable, Hashable {
    /// The hook's revision: the kernel counts every change to a tcx or netkit list (Linux 6.6);
    /// pass it as `expectedRevision` to attach only if nothing changed in between. 0 for hooks
    /// without revisions.
    public var revision: UInt64
    /// The hook's attach flags (`BPF_F_ALLOW_MULTI`... for cgroups).
    public var attachFlags: UInt32
    /// The attached programs, first to run first.
    public var programs: [AttachedProgram]
}

/// Lists the programs attached to a hook (`BPF_PROG_QUERY`).
///
/// ```swift
/// let attached = try ProgramQuery.query(interfaceName: "eth0", attachType: .tcxIngress)
/// print(attached.revision, attached.programs.map(\.programID))
/// ```
public enum ProgramQuery {
    /// The programs on network interface `interfaceIndex` for `attachType` (tcx, netkit, XDP...).
    public static func query(interfaceIndex: UInt32, attachType: AttachType) throws(LinkError) -> AttachedPrograms {
        try query(target: interfaceIndex, attachType: attachType, what: "interface \(interfaceIndex)")
    }

    /// The programs on the interface named `interfaceName`.
    public static func query(interfaceName: String, attachType: AttachType) throws(LinkError) -> AttachedPrograms {
        try query(interfaceIndex: try NetworkInterface.index(of: interfaceName), attachType: attachType)
    }

    /// The programs on the cgroup v2 directory at `cgroupPath`.
    public static func query(cgroupPath: String, attachType: AttachType) throws(LinkError) -> AttachedPrograms {
        let cgroup = try Cgroup.openDirectory(cgroupPath, what: "cgroup")
        return try query(target: UInt32(bitPattern: cgroup.rawValue), attachType: attachType, what: "cgroup \(cgroupPath)")
    }

    /// The programs on the network namespace at `namespacePath` (such as `/proc/self/ns/net`),
    /// for ``AttachType/flowDissector`` and ``AttachType/skLookup``.
    public static func query(namespacePath: String, attachType: AttachType) throws(LinkError) -> AttachedPrograms {
        let namespace = try NetNS.openNamespace(namespacePath)
        return try query(
            target: UInt32(bitPattern: namespace.rawValue), attachType: attachType, what: "network namespace \(namespacePath)")
    }

    /// The programs attached to the socket map `map` (stream parser, verdict, msg verdict).
    public static func query(map: Map, attachType: AttachType) throws(LinkError) -> AttachedPrograms {
        let result = try map.withFileDescriptorValue { (number) throws(LinkError) -> AttachedPrograms in
            try query(target: UInt32(bitPattern: number), attachType: attachType, what: "map \(map.name)")
        }
        guard let result else { throw .invalidOption("map \(map.name) is closed") }
        return result
    }

    /// Queries with arrays that grow until everything fits: the kernel fills at most `prog_cnt`
    /// entries and says `ENOSPC` when there were more.
    static func query(target: UInt32, attachType: AttachType, what: String) throws(LinkError) -> AttachedPrograms {
        var capacity = 8
        while true {
            var programIDs = [UInt32](repeating: 0, count: capacity)
            var linkIDs = [UInt32](repeating: 0, count: capacity)
            var attributes = ProgQueryAttr()
            attributes.targetFD = target
            attributes.attachType = attachType.rawValue
            attributes.progCnt = UInt32(capacity)
            let outcome = programIDs.withUnsafeMutableBytes { programBytes in
                linkIDs.withUnsafeMutableBytes { linkBytes in
                    attributes.progIDs = Sys.address(of: programBytes.baseAddress)
                    // Kernels before 6.6 refuse the whole query (EINVAL) when fields they do not
                    // know are set, and only tcx and netkit report link ids.
                    if reportsLinkIDs(attachType) { attributes.linkIDs = Sys.address(of: linkBytes.baseAddress) }
                    return Result { () throws(BPFSyscallError) in try Sys.progQuery(&attributes) }
                }
            }
            let count = Int(attributes.progCnt)
            switch outcome {
            case .failure(let error) where error.errno == .noSpace && count > capacity:
                capacity = count
                continue
            case .failure(let error):
                if error.errno == .invalidArgument, let missing = MultiProgramHook.missing(attachType) {
                    throw missing
                }
                throw .syscall(operation: "query programs on \(what) (attach type \(attachType.rawValue))", error: error)
            case .success:
                let filled = min(count, capacity)
                let programs = (0..<filled).map { index in
                    AttachedProgram(programID: programIDs[index], linkID: linkIDs[index] == 0 ? nil : linkIDs[index])
                }
                return AttachedPrograms(revision: attributes.revision, attachFlags: attributes.attachFlags, programs: programs)
            }
        }
    }
}

/// Whether `BPF_PROG_QUERY` fills `link_ids` for `attachType`: the multi-program hooks of
/// Linux 6.6 (tcx, netkit) do.
func reportsLinkIDs(_ attachType: AttachType) -> Bool {
    switch attachType {
    case .tcxIngress, .tcxEgress, .netkitPrimary, .netkitPeer: true
    default: false
    }
}

/// Network interfaces by name.
enum NetworkInterface {
    /// The index of `name`, or ``LinkError/interfaceNotFound(_:)``.
    static func index(of name: String) throws(LinkError) -> UInt32 {
        let index = if_nametoindex(name)
        guard index != 0 else { throw .interfaceNotFound(name) }
        return index
    }

    /// Whether the calling thread's network namespace has an interface with `index`.
    static func exists(index: UInt32) -> Bool {
        var name = [CChar](repeating: 0, count: 16)  // IFNAMSIZ
        return if_indextoname(index, &name) != nil
    }
}
