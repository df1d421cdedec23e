import EBPFCollection
import EBPFSys

/// Netfilter links: a ``ProgramType/netfilter`` program on a netfilter hook of the calling
/// thread's network namespace, returning `NF_ACCEPT` (1) or `NF_DROP` (0) for each packet.
/// Requires Linux 6.4 with `CONFIG_NETFILTER_BPF_LINK`.
///
/// ```swift
/// let link = try Netfilter.attach(program: firewall, protocolFamily: .ipv4, hook: .localIn, priority: -128)
/// ```
public enum Netfilter {
    /// A protocol family (`NFPROTO_*`).
    public struct ProtocolFamily: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `NFPROTO_IPV4`.
        public static let ipv4 = ProtocolFamily(rawValue: 2)
        /// `NFPROTO_IPV6`.
        public static let ipv6 = ProtocolFamily(rawValue: 10)
    }

    /// A hook in the IP stack (`NF_INET_*`).
    public struct Hook: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `NF_INET_PRE_ROUTING`.
        public static let preRouting = Hook(rawValue: 0)
        /// `NF_INET_LOCAL_IN`.
        public static let localIn = Hook(rawValue: 1)
        /// `NF_INET_FORWARD`.
        public static let forward = Hook(rawValue: 2)
        /// `NF_INET_LOCAL_OUT`.
        public static let localOut = Hook(rawValue: 3)
        /// `NF_INET_POST_ROUTING`.
        public static let postRouting = Hook(rawValue: 4)
    }

    /// Options of a netfilter link.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `BPF_F_NETFILTER_IP_DEFRAG`: the program sees reassembled packets (Linux 6.6); the
        /// priority must then come after the defragmentation hook's.
        public static let ipDefrag = Flags(rawValue: 1 << 0)
    }

    /// Attaches `program` to `hook` for `protocolFamily` at `priority` (lower runs first; the
    /// extremes `Int32.min` and `Int32.max` are reserved by the kernel).
    public static func attach(
        program: Program, protocolFamily: ProtocolFamily, hook: Hook, priority: Int32, flags: Flags = []
    ) throws(LinkError) -> RawLink {
        let hookName = "netfilter hook \(hook.rawValue) of protocol family \(protocolFamily.rawValue) at priority \(priority)"
        guard priority != Int32.min, priority != Int32.max else {
            throw .invalidOption("\(hookName): the kernel reserves priorities Int32.min and Int32.max")
        }
        return try Features.withProgram(program, [.netfilter], hook: hookName) { (descriptor) throws(LinkError) -> RawLink in
            var attributes = LinkCreateNetfilterAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = AttachType.netfilter.rawValue
            attributes.pf = protocolFamily.rawValue
            attributes.hooknum = hook.rawValue
            attributes.priority = priority
            attributes.netfilterFlags = flags.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                if error.errno == .notSupported || error.errno == .kernelNotSupported {
                    throw .notSupported(
                        feature: "netfilter links", requirement: "CONFIG_NETFILTER_BPF_LINK (Linux 6.4)",
                        detail: "BPF_LINK_CREATE for \(hookName) returned \(error.errno)")
                }
                throw .syscall(operation: "attach \(hookName)", error: error)
            }
        }
    }
}
