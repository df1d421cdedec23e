import EBPFCollection
import EBPFSys

// Decoding `struct bpf_link_info` per link type, including what the kernel only copies into
// buffers the caller offers: tracepoint and iterator names, perf event file and function names,
// kprobe.multi addresses and cookies, uprobe.multi paths and offsets.

/// Everything the kernel says about a link object.
public struct LinkDescription: Sendable, Hashable {
    /// The kernel-wide ID.
    public var id: UInt32
    public var type: LinkType
    /// The ID of the attached program; 0 once the link was detached.
    public var programID: UInt32
    public var details: LinkDetails
}

/// The part of a link's info that depends on its type.
public enum LinkDetails: Sendable, Hashable {
    case rawTracepoint(name: String, cookie: UInt64)
    /// fentry, fexit, fmod_ret, LSM and freplace links: the BTF object (0 for vmlinux on kernels
    /// before 5.13) and type of the target.
    case tracing(attachType: AttachType, targetObjectID: UInt32, targetBTFID: UInt32, cookie: UInt64)
    case cgroup(cgroupID: UInt64, attachType: AttachType)
    /// `mapID` for map element iterators, `cgroupID` and `order` for cgroup iterators, `taskTID`
    /// and `taskPID` for task iterators (0 when not set).
    case iterator(target: String, mapID: UInt32, cgroupID: UInt64, order: UInt32)
    case netns(inode: UInt32, attachType: AttachType)
    case xdp(ifindex: UInt32)
    case perfEvent(PerfEventLinkDetails)
    case kprobeMulti(KprobeMultiLinkDetails)
    case structOps(mapID: UInt32)
    case netfilter(protocolFamily: UInt32, hook: UInt32, priority: Int32, flags: UInt32)
    case tcx(ifindex: UInt32, attachType: AttachType)
    case uprobeMulti(UprobeMultiLinkDetails)
    case netkit(ifindex: UInt32, attachType: AttachType)
    case sockmap(mapID: UInt32, attachType: AttachType)
    /// A link type this library does not decode: the union's raw bytes.
    case other(bytes: [UInt8])
}

/// What a perf event link is attached to (Linux 6.6 reports it).
public struct PerfEventLinkDetails: Sendable, Hashable {
    /// `BPF_PERF_EVENT_*`.
    public enum Kind: UInt32, Sendable, Hashable {
        case unspecified = 0, uprobe, uretprobe, kprobe, kretprobe, tracepoint, event
    }
    public var kind: Kind?
    /// The raw `type` when ``kind`` is nil.
    public var rawKind: UInt32
    /// The probed file (uprobes), function (kprobes) or tracepoint; empty for raw perf events.
    public var name: String
    /// The offset within the file or function.
    public var offset: UInt64
    /// The kprobe's address (0 unless kernel addresses may be shown).
    public var address: UInt64
    public var cookie: UInt64
    /// How often a kprobe was missed (Linux 6.7).
    public var missed: UInt64
    /// For raw perf events: `perf_event_attr.type` and `.config`.
    public var eventType: UInt32
    public var eventConfig: UInt64
}

/// A kprobe.multi link's functions.
public struct KprobeMultiLinkDetails: Sendable, Hashable {
    /// The functions' addresses, sorted by the kernel (zero unless kernel addresses may be shown).
    public var addresses: [UInt64]
    /// The cookies in the same order; empty when none were given.
    public var cookies: [UInt64]
    /// Whether these are return probes (`BPF_F_KPROBE_MULTI_RETURN`).
    public var isReturnProbe: Bool
    public var flags: UInt32
    /// How often a probe was missed (Linux 6.7).
    public var missed: UInt64
}

/// An uprobe.multi link's probes.
public struct UprobeMultiLinkDetails: Sendable, Hashable {
    public var path: String
    public var offsets: [UInt64]
    public var referenceCounterOffsets: [UInt64]
    public var cookies: [UInt64]
    /// Whether these are return probes (`BPF_F_UPROBE_MULTI_RETURN`).
    public var isReturnProbe: Bool
    public var flags: UInt32
    /// The process the probes are limited to; 0 for all.
    public var pid: UInt32
}

extension LinkDescription {
    /// Reads and decodes the info of the link behind `descriptorValue` (borrowed for the call).
    public init(descriptorValue: Int32) throws(BPFSyscallError) {
        let first = try Self.linkInfo(descriptorValue) { _ in }
        let type = LinkType(rawValue: first.type)
        id = first.id
        self.type = type
        programID = first.progID
        details = try Self.details(descriptorValue, first)
    }

    /// Opens the link with kernel-wide `id` and describes it.
    /// - Throws: `ENOENT` when the link is gone.
    public init(id: UInt32) throws(BPFSyscallError) {
        let descriptor = try Sys.openObject(.link, id: id)
        try self.init(descriptorValue: descriptor.rawValue)
    }

    /// The IDs of every link in the kernel, in ascending order (`BPF_LINK_GET_NEXT_ID`, Linux 5.8).
    public static func allIDs() throws(BPFSyscallError) -> [UInt32] {
        var ids: [UInt32] = []
        var current: UInt32 = 0
        while let next = try Sys.nextID(of: .link, after: current) {
            ids.append(next)
            current = next
        }
        return ids
    }

    private static let nameCapacity = 4096

    private static func linkInfo(_ descriptor: Int32, _ prepare: (inout LinkInfo) -> Void) throws(BPFSyscallError) -> LinkInfo {
        var info = LinkInfo()
        prepare(&info)
        var attributes = ObjGetInfoByFDAttr()
        attributes.bpfFD = UInt32(bitPattern: descriptor)
        attributes.infoLen = UInt32(MemoryLayout<LinkInfo>.size)
        let result = withUnsafeMutableBytes(of: &info) { bytes in
            attributes.info = Sys.address(of: bytes.baseAddress)
            return Result { () throws(BPFSyscallError) in try Sys.objGetInfoByFD(&attributes) }
        }
        try result.get()
        return info
    }

    /// A second info call with `buffers` (each of `count` bytes) pointed to by `prepare`.
    private static func withBuffers(
        _ descriptor: Int32, sizes: [Int],
        _ prepare: ([UnsafeMutableRawBufferPointer], inout LinkInfo) -> Void
    ) throws(BPFSyscallError) -> (LinkInfo, [[UInt8]]) {
        let buffers = sizes.map { UnsafeMutableRawBufferPointer.allocate(byteCount: max($0, 8), alignment: 8) }
        defer { buffers.forEach { $0.deallocate() } }
        for buffer in buffers { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        let info = try linkInfo(descriptor) { info in prepare(buffers, &info) }
        return (info, zip(buffers, sizes).map { Array($0.0.prefix($0.1)) })
    }

    private static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    private static func words(_ bytes: [UInt8], count: Int) -> [UInt64] {
        (0..<min(count, bytes.count / 8)).map { index in
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
        }
    }

    private static func details(_ descriptor: Int32, _ first: LinkInfo) throws(BPFSyscallError) -> LinkDetails {
        switch LinkType(rawValue: first.type) {
        case .rawTracepoint:
            let (info, buffers) = try withBuffers(descriptor, sizes: [nameCapacity]) { buffers, info in
                var extra = RawTracepointLinkInfo()
                extra.tpName = Sys.address(of: buffers[0].baseAddress)
                extra.tpNameLen = UInt32(nameCapacity)
                info.setExtra(extra)
            }
            return .rawTracepoint(name: string(buffers[0]), cookie: info.extra(as: RawTracepointLinkInfo.self).cookie)
        case .tracing:
            let extra = first.extra(as: TracingLinkInfo.self)
            return .tracing(
                attachType: AttachType(rawValue: extra.attachType), targetObjectID: extra.targetObjID,
                targetBTFID: extra.targetBTFID, cookie: extra.cookie)
        case .cgroup:
            let extra = first.extra(as: CgroupLinkInfo.self)
            return .cgroup(cgroupID: extra.cgroupID, attachType: AttachType(rawValue: extra.attachType))
        case .iter:
            let (info, buffers) = try withBuffers(descriptor, sizes: [nameCapacity]) { buffers, info in
                var extra = IterLinkInfo()
                extra.targetName = Sys.address(of: buffers[0].baseAddress)
                extra.targetNameLen = UInt32(nameCapacity)
                info.setExtra(extra)
            }
            let extra = info.extra(as: IterLinkInfo.self)
            return .iterator(target: string(buffers[0]), mapID: extra.mapID, cgroupID: extra.cgroupID, order: extra.order)
        case .netns:
            let extra = first.extra(as: NetNsLinkInfo.self)
            return .netns(inode: extra.netnsIno, attachType: AttachType(rawValue: extra.attachType))
        case .xdp:
            return .xdp(ifindex: first.extra(as: XDPLinkInfo.self).ifindex)
        case .perfEvent:
            return .perfEvent(try perfEvent(descriptor, first))
        case .kprobeMulti:
            let count = Int(first.extra(as: KprobeMultiLinkInfo.self).count)
            let (info, buffers) = try withBuffers(descriptor, sizes: [count * 8, count * 8]) { buffers, info in
                var extra = KprobeMultiLinkInfo()
                // The kernel refuses arrays with a count of 0 (and a count without arrays).
                if count > 0 {
                    extra.count = UInt32(truncatingIfNeeded: count)
                    extra.addrs = Sys.address(of: buffers[0].baseAddress)
                    extra.cookies = Sys.address(of: buffers[1].baseAddress)
                }
                info.setExtra(extra)
            }
            let extra = info.extra(as: KprobeMultiLinkInfo.self)
            let cookies = words(buffers[1], count: count)
            return .kprobeMulti(
                KprobeMultiLinkDetails(
                    addresses: words(buffers[0], count: count), cookies: cookies.allSatisfy { $0 == 0 } ? [] : cookies,
                    isReturnProbe: extra.flags & 1 != 0, flags: extra.flags, missed: extra.missed))
        case .structOps:
            return .structOps(mapID: first.extra(as: StructOpsLinkInfo.self).mapID)
        case .netfilter:
            let extra = first.extra(as: NetfilterLinkInfo.self)
            return .netfilter(protocolFamily: extra.pf, hook: extra.hooknum, priority: extra.priority, flags: extra.flags)
        case .tcx:
            let extra = first.extra(as: TCXLinkInfo.self)
            return .tcx(ifindex: extra.ifindex, attachType: AttachType(rawValue: extra.attachType))
        case .uprobeMulti:
            let count = Int(first.extra(as: UprobeMultiLinkInfo.self).count)
            let sizes = [nameCapacity, count * 8, count * 8, count * 8]
            let (info, buffers) = try withBuffers(descriptor, sizes: sizes) { buffers, info in
                var extra = UprobeMultiLinkInfo()
                extra.path = Sys.address(of: buffers[0].baseAddress)
                extra.pathSize = UInt32(nameCapacity)
                if count > 0 {
                    extra.count = UInt32(truncatingIfNeeded: count)
                    extra.offsets = Sys.address(of: buffers[1].baseAddress)
                    extra.refCtrOffsets = Sys.address(of: buffers[2].baseAddress)
                    extra.cookies = Sys.address(of: buffers[3].baseAddress)
                }
                info.setExtra(extra)
            }
            let extra = info.extra(as: UprobeMultiLinkInfo.self)
            let referenceCounters = words(buffers[2], count: count)
            let cookies = words(buffers[3], count: count)
            return .uprobeMulti(
                UprobeMultiLinkDetails(
                    path: string(buffers[0]), offsets: words(buffers[1], count: count),
                    referenceCounterOffsets: referenceCounters.allSatisfy { $0 == 0 } ? [] : referenceCounters,
                    cookies: cookies.allSatisfy { $0 == 0 } ? [] : cookies, isReturnProbe: extra.flags & 1 != 0,
                    flags: extra.flags, pid: extra.pid))
        case .netkit:
            let extra = first.extra(as: NetkitLinkInfo.self)
            return .netkit(ifindex: extra.ifindex, attachType: AttachType(rawValue: extra.attachType))
        case .sockmap:
            let extra = first.extra(as: SockmapLinkInfo.self)
            return .sockmap(mapID: extra.mapID, attachType: AttachType(rawValue: extra.attachType))
        default:
            return .other(bytes: withUnsafeBytes(of: first.extra) { Array($0) })
        }
    }

    private static func perfEvent(_ descriptor: Int32, _ first: LinkInfo) throws(BPFSyscallError) -> PerfEventLinkDetails {
        let rawKind = first.extra(as: PerfEventEventLinkInfo.self).type
        let kind = PerfEventLinkDetails.Kind(rawValue: rawKind)
        var details = PerfEventLinkDetails(
            kind: kind, rawKind: rawKind, name: "", offset: 0, address: 0, cookie: 0, missed: 0, eventType: 0, eventConfig: 0)
        switch kind {
        case .uprobe, .uretprobe:
            let (info, buffers) = try withBuffers(descriptor, sizes: [nameCapacity]) { buffers, info in
                var extra = PerfEventUprobeLinkInfo()
                extra.fileName = Sys.address(of: buffers[0].baseAddress)
                extra.nameLen = UInt32(nameCapacity)
                info.setExtra(extra)
            }
            let extra = info.extra(as: PerfEventUprobeLinkInfo.self)
            details.name = string(buffers[0])
            details.offset = UInt64(extra.offset)
            details.cookie = extra.cookie
        case .kprobe, .kretprobe:
            let (info, buffers) = try withBuffers(descriptor, sizes: [nameCapacity]) { buffers, info in
                var extra = PerfEventKprobeLinkInfo()
                extra.funcName = Sys.address(of: buffers[0].baseAddress)
                extra.nameLen = UInt32(nameCapacity)
                info.setExtra(extra)
            }
            let extra = info.extra(as: PerfEventKprobeLinkInfo.self)
            details.name = string(buffers[0])
            details.offset = UInt64(extra.offset)
            details.address = extra.addr
            details.missed = extra.missed
            details.cookie = extra.cookie
        case .tracepoint:
            let (info, buffers) = try withBuffers(descriptor, sizes: [nameCapacity]) { buffers, info in
                var extra = PerfEventTracepointLinkInfo()
                extra.tpName = Sys.address(of: buffers[0].baseAddress)
                extra.nameLen = UInt32(nameCapacity)
                info.setExtra(extra)
            }
            details.name = string(buffers[0])
            details.cookie = info.extra(as: PerfEventTracepointLinkInfo.self).cookie
        case .event:
            let extra = first.extra(as: PerfEventEventLinkInfo.self)
            details.eventType = extra.eventType
            details.eventConfig = extra.config
            details.cookie = extra.cookie
        case .unspecified, nil:
            break
        }
        return details
    }
}

extension RawLink {
    /// The link's info decoded for its type, with names, addresses and cookies.
    public func describe() throws(LinkError) -> LinkDescription {
        let outcome = withDescriptor { (fd: borrowing FileDescriptor) -> Result<LinkDescription, BPFSyscallError> in
            do throws(BPFSyscallError) {
                return .success(try LinkDescription(descriptorValue: fd.rawValue))
            } catch {
                return .failure(error)
            }
        }
        guard let outcome else { throw .closed }
        switch outcome {
        case .success(let description): return description
        case .failure(let error): throw .syscall(operation: "describe link", error: error)
        }
    }
}
