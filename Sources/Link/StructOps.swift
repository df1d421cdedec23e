import EBPFCollection
import EBPFSys

/// struct_ops registration: a `BPF_MAP_TYPE_STRUCT_OPS` map whose value fills in a kernel
/// operations table (`tcp_congestion_ops`, `sched_ext_ops`...) with programs. Created with
/// ``MapFlags/link`` (`BPF_F_LINK`), the map registers only when a link is created for it, and
/// unregisters when the link closes. Requires Linux 6.4 for links; the map must hold its value
/// (`BPF_MAP_UPDATE_ELEM` of key 0) first.
///
/// ```swift
/// let link = try StructOps.attach(map: congestionControl)
/// ```
public enum StructOps {
    /// Registers the operations table in `map` with a `BPF_STRUCT_OPS` link.
    public static func attach(map: Map) throws(LinkError) -> RawLink {
        let hook = "struct_ops map \(map.name)"
        guard map.type == .structOps else {
            throw .invalidOption("\(hook): map type \(map.type) is not struct_ops")
        }
        guard map.flags.contains(.link) else {
            throw .invalidOption("\(hook) was created without BPF_F_LINK; it registers on update instead of by link")
        }
        let created = try map.withFileDescriptorValue { (number) throws(LinkError) -> RawLink in
            var attributes = LinkCreateAttr()
            attributes.mapFD = UInt32(bitPattern: number)
            attributes.attachType = AttachType.structOps.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                if error.errno == .invalidArgument, !hasStructOpsLink {
                    throw .notSupported(
                        feature: "struct_ops links", requirement: "Linux 6.4", detail: "BPF_LINK_CREATE for \(hook) returned EINVAL")
                }
                if error.errno == .fileExists {
                    throw .attachPointBusy(hook: hook, detail: "an operations table of that name is registered already")
                }
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
        guard let created else { throw .invalidOption("\(hook) is closed") }
        return created
    }

    /// Whether `BPF_LINK_CREATE` knows `BPF_STRUCT_OPS`: with it, a link for no map fails with
    /// `EBADF`; without it the attach type is refused with `EINVAL`.
    static let hasStructOpsLink: Bool = {
        var attributes = LinkCreateAttr()
        attributes.mapFD = UInt32(bitPattern: -1)
        attributes.attachType = AttachType.structOps.rawValue
        do throws(BPFSyscallError) {
            var link = try Sys.linkCreate(attributes)
            try? link.close()
            return true
        } catch {
            return error.errno == .badFileDescriptor
        }
    }()
}
