/// `struct tcmsg`: the fixed header of qdisc and filter messages.
public struct TrafficControlHeader: Sendable, Equatable {
    public static let size = 20
    public var interfaceIndex: Int32
    public var handle: UInt32
    public var parent: UInt32
    /// For filters: the priority in the upper 16 bits, the protocol (network byte order) in the
    /// lower.
    public var info: UInt32

    public init(interfaceIndex: Int32, handle: UInt32 = 0, parent: UInt32 = 0, info: UInt32 = 0) {
        self.interfaceIndex = interfaceIndex
        self.handle = handle
        self.parent = parent
        self.info = info
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [UInt8(AddressFamily.unspecified), 0, 0, 0]
        bytes.appendHost(interfaceIndex)
        bytes.appendHost(handle)
        bytes.appendHost(parent)
        bytes.appendHost(info)
        return bytes
    }

    public init(decoding payload: [UInt8]) throws(NetlinkError) {
        guard payload.count >= Self.size else {
            throw .malformed(what: "tcmsg", offset: NetlinkMessage.headerSize, detail: "\(payload.count) bytes, needs \(Self.size)")
        }
        let reader = HostBytes(payload)
        interfaceIndex = Int32(bitPattern: reader.uint32(at: 4))
        handle = reader.uint32(at: 8)
        parent = reader.uint32(at: 12)
        info = reader.uint32(at: 16)
    }
}

/// Where a tc filter hangs: the ingress or egress hook of a `clsact` qdisc.
public enum ClsactHook: UInt32, Sendable, CaseIterable {
    /// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`.
    case ingress = 0xFFFF_FFF2
    /// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`.
    case egress = 0xFFFF_FFF3

    /// The clsact qdisc's own parent (`TC_H_CLSACT`) and handle (`ffff:`).
    static let qdiscParent: UInt32 = 0xFFFF_FFF1
    static let qdiscHandle: UInt32 = 0xFFFF_0000
}

/// A qdisc as `RTM_GETQDISC` reports it.
public struct Qdisc: Sendable, Equatable {
    public var interfaceIndex: UInt32
    public var handle: UInt32
    public var parent: UInt32
    /// `TCA_KIND`: `clsact`, `noqueue`, `pfifo_fast`, ...
    public var kind: String

    public init(message: NetlinkMessage) throws(NetlinkError) {
        let header = try TrafficControlHeader(decoding: message.payload)
        let attributes = try NetlinkAttribute.decodeAll(
            message.payload[TrafficControlHeader.size...], baseOffset: NetlinkMessage.headerSize + TrafficControlHeader.size)
        interfaceIndex = UInt32(bitPattern: header.interfaceIndex)
        handle = header.handle
        parent = header.parent
        kind = try attributes.first(ofType: TrafficControlAttribute.kind)?.string() ?? ""
    }
}

/// A tc filter as `RTM_GETTFILTER` (or the echo of `RTM_NEWTFILTER`) reports it.
public struct TrafficControlFilter: Sendable, Equatable {
    public var interfaceIndex: UInt32
    public var parent: UInt32
    public var handle: UInt32
    public var priority: UInt16
    /// The Ethernet protocol the filter matches (`ETH_P_ALL` is 3), in host byte order.
    public var ethernetProtocol: UInt16
    /// `TCA_KIND`: `bpf` for cls_bpf.
    public var kind: String
    /// For cls_bpf: the program's kernel id (`TCA_BPF_ID`, Linux 4.13).
    public var programID: UInt32?
    /// For cls_bpf: the program's tag (`TCA_BPF_TAG`).
    public var programTag: [UInt8]?
    /// For cls_bpf: the name given at attach time (`TCA_BPF_NAME`).
    public var programName: String?
    /// For cls_bpf: whether the filter runs in direct-action mode (`TCA_BPF_FLAG_ACT_DIRECT`).
    public var isDirectAction: Bool

    public init(message: NetlinkMessage) throws(NetlinkError) {
        let header = try TrafficControlHeader(decoding: message.payload)
        let attributes = try NetlinkAttribute.decodeAll(
            message.payload[TrafficControlHeader.size...], baseOffset: NetlinkMessage.headerSize + TrafficControlHeader.size)
        interfaceIndex = UInt32(bitPattern: header.interfaceIndex)
        parent = header.parent
        handle = header.handle
        priority = UInt16(truncatingIfNeeded: header.info >> 16)
        ethernetProtocol = UInt16(bigEndian: UInt16(truncatingIfNeeded: header.info))
        kind = try attributes.first(ofType: TrafficControlAttribute.kind)?.string() ?? ""
        isDirectAction = false
        guard kind == "bpf", let options = try attributes.first(ofType: TrafficControlAttribute.options)?.nested() else { return }
        programID = try options.first(ofType: TrafficControlAttribute.bpfID)?.uint32()
        programTag = options.first(ofType: TrafficControlAttribute.bpfTag)?.payload
        programName = try options.first(ofType: TrafficControlAttribute.bpfName)?.string()
        let flags = try options.first(ofType: TrafficControlAttribute.bpfFlags)?.uint32() ?? 0
        isDirectAction = flags & TrafficControlAttribute.directActionFlag != 0
    }
}

/// `TCA_*` and `TCA_BPF_*` attribute numbers.
enum TrafficControlAttribute {
    static let kind: UInt16 = 1
    static let options: UInt16 = 2
    static let bpfDescriptor: UInt16 = 6
    static let bpfName: UInt16 = 7
    static let bpfFlags: UInt16 = 8
    static let bpfTag: UInt16 = 10
    static let bpfID: UInt16 = 11
    /// `TCA_BPF_FLAG_ACT_DIRECT`.
    static let directActionFlag: UInt32 = 1
    /// `ETH_P_ALL`.
    static let allProtocols: UInt16 = 3
}

extension NetlinkSocket {
    /// Adds a `clsact` qdisc to the device (`RTM_NEWQDISC` with `NLM_F_EXCL`): the kernel answers
    /// `EEXIST` when the device has one. Needs `CONFIG_NET_SCH_INGRESS` (the `sch_ingress`
    /// module, which the kernel loads on demand).
    public func addClsactQdisc(interfaceIndex: UInt32) throws(NetlinkError) {
        try clsactQdisc(interfaceIndex: interfaceIndex, type: NetlinkMessage.Kind.newQdisc, flags: [.create, .exclusive], verb: "add")
    }

    /// Deletes the device's `clsact` qdisc and every filter on it.
    public func deleteClsactQdisc(interfaceIndex: UInt32) throws(NetlinkError) {
        try clsactQdisc(interfaceIndex: interfaceIndex, type: NetlinkMessage.Kind.deleteQdisc, flags: [], verb: "delete")
    }

    private func clsactQdisc(interfaceIndex: UInt32, type: UInt16, flags: NetlinkMessageFlags, verb: String) throws(NetlinkError) {
        let header = TrafficControlHeader(
            interfaceIndex: try Self.kernelIndex(interfaceIndex), handle: ClsactHook.qdiscHandle, parent: ClsactHook.qdiscParent)
        var attributes = NetlinkAttributeWriter()
        try attributes.append(TrafficControlAttribute.kind, string: "clsact")
        try request(
            type: type, flags: flags, payload: header.encoded() + attributes.bytes,
            operation: "\(verb) clsact qdisc on interface \(interfaceIndex)")
    }

    /// The device's qdiscs (an `RTM_GETQDISC` dump, filtered to the device).
    public func qdiscs(interfaceIndex: UInt32) throws(NetlinkError) -> [Qdisc] {
        let header = TrafficControlHeader(interfaceIndex: try Self.kernelIndex(interfaceIndex))
        var result: [Qdisc] = []
        for message in try dump(
            type: NetlinkMessage.Kind.getQdisc, payload: header.encoded(), operation: "list qdiscs of interface \(interfaceIndex)")
        where message.type == NetlinkMessage.Kind.newQdisc {
            let qdisc = try Qdisc(message: message)
            if qdisc.interfaceIndex == interfaceIndex { result.append(qdisc) }
        }
        return result
    }

    /// Adds a cls_bpf filter in direct-action mode for every protocol (`RTM_NEWTFILTER`, kind
    /// `bpf`), running the `SCHED_CLS` program open as `programDescriptor`, and returns the filter
    /// the kernel echoes back (with the handle and priority it chose where 0 was given).
    ///
    /// With `replace` false the request carries `NLM_F_EXCL`, and the kernel answers `EEXIST`
    /// when a filter holds `handle` at `priority`; with `replace` true it carries
    /// `NLM_F_REPLACE`, swapping that filter's program.
    @discardableResult
    public func addBPFFilter(
        interfaceIndex: UInt32, hook: ClsactHook, handle: UInt32, priority: UInt16, programDescriptor: Int32,
        programName: String, replace: Bool
    ) throws(NetlinkError) -> TrafficControlFilter {
        let header = TrafficControlHeader(
            interfaceIndex: try Self.kernelIndex(interfaceIndex), handle: handle, parent: hook.rawValue,
            info: Self.filterInfo(priority: priority))
        var attributes = NetlinkAttributeWriter()
        try attributes.append(TrafficControlAttribute.kind, string: "bpf")
        try attributes.appendNested(TrafficControlAttribute.options) { (options) throws(NetlinkError) in
            try options.append(TrafficControlAttribute.bpfDescriptor, integer: UInt32(bitPattern: programDescriptor))
            try options.append(TrafficControlAttribute.bpfName, string: programName)
            try options.append(TrafficControlAttribute.bpfFlags, integer: TrafficControlAttribute.directActionFlag)
        }
        let operation = "add cls_bpf filter (handle \(handle), priority \(priority)) on \(hook) of interface \(interfaceIndex)"
        let replies = try request(
            type: NetlinkMessage.Kind.newFilter, flags: [.create, .echo, replace ? .replace : .exclusive],
            payload: header.encoded() + attributes.bytes, operation: operation)
        guard let echoed = replies.first(where: { $0.type == NetlinkMessage.Kind.newFilter }) else {
            throw .malformed(what: "reply to \(operation)", offset: 0, detail: "no echoed RTM_NEWTFILTER message")
        }
        return try TrafficControlFilter(message: echoed)
    }

    /// Deletes the cls_bpf filter at `handle` and `priority` (`RTM_DELTFILTER`).
    public func deleteBPFFilter(interfaceIndex: UInt32, hook: ClsactHook, handle: UInt32, priority: UInt16) throws(NetlinkError) {
        try request(
            type: NetlinkMessage.Kind.deleteFilter,
            payload: try filterRequest(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority),
            operation: "delete cls_bpf filter (handle \(handle), priority \(priority)) on \(hook) of interface \(interfaceIndex)")
    }

    /// The cls_bpf filter at `handle` and `priority`, with its program id and tag; the kernel
    /// answers `ENOENT` when there is none.
    public func bpfFilter(interfaceIndex: UInt32, hook: ClsactHook, handle: UInt32, priority: UInt16) throws(NetlinkError)
        -> TrafficControlFilter
    {
        let operation = "get cls_bpf filter (handle \(handle), priority \(priority)) on \(hook) of interface \(interfaceIndex)"
        let replies = try request(
            type: NetlinkMessage.Kind.getFilter,
            payload: try filterRequest(interfaceIndex: interfaceIndex, hook: hook, handle: handle, priority: priority),
            operation: operation)
        guard let message = replies.first(where: { $0.type == NetlinkMessage.Kind.newFilter }) else {
            throw .malformed(what: "reply to \(operation)", offset: 0, detail: "no RTM_NEWTFILTER message")
        }
        return try TrafficControlFilter(message: message)
    }

    /// Every filter on `hook` of the device (an `RTM_GETTFILTER` dump); empty when the device
    /// has no clsact qdisc. The dump also lists each classifier instance (one per priority and
    /// protocol) as an entry with handle 0, as `tc filter show` prints it; those are left out.
    public func filters(interfaceIndex: UInt32, hook: ClsactHook) throws(NetlinkError) -> [TrafficControlFilter] {
        let header = TrafficControlHeader(interfaceIndex: try Self.kernelIndex(interfaceIndex), parent: hook.rawValue)
        var result: [TrafficControlFilter] = []
        for message in try dump(
            type: NetlinkMessage.Kind.getFilter, payload: header.encoded(),
            operation: "list filters on \(hook) of interface \(interfaceIndex)")
        where message.type == NetlinkMessage.Kind.newFilter {
            let filter = try TrafficControlFilter(message: message)
            if filter.handle != 0 { result.append(filter) }
        }
        return result
    }

    private func filterRequest(interfaceIndex: UInt32, hook: ClsactHook, handle: UInt32, priority: UInt16) throws(NetlinkError)
        -> [UInt8]
    {
        let header = TrafficControlHeader(
            interfaceIndex: try Self.kernelIndex(interfaceIndex), handle: handle, parent: hook.rawValue,
            info: Self.filterInfo(priority: priority))
        var attributes = NetlinkAttributeWriter()
        try attributes.append(TrafficControlAttribute.kind, string: "bpf")
        return header.encoded() + attributes.bytes
    }

    /// `TC_H_MAKE(priority << 16, htons(ETH_P_ALL))`.
    static func filterInfo(priority: UInt16) -> UInt32 {
        UInt32(priority) << 16 | UInt32(TrafficControlAttribute.allProtocols.bigEndian)
    }
}
