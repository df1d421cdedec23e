import EBPF
import FuzzDriver

/// Decodes arbitrary bytes as a datagram from a `NETLINK_ROUTE` socket: the messages, then each
/// one as what its type says (acknowledgement, device, qdisc, filter), then every attribute
/// nest. Malformed input must end in a `NetlinkError`, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlink(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let messages = try? NetlinkMessage.decode(bytes) else { return 0 }
    var total = 0
    for message in messages {
        switch message.type {
        case NetlinkMessage.Kind.error, NetlinkMessage.Kind.done:
            if let acknowledgement = try? NetlinkAcknowledgement(message) {
                total &+= Int(acknowledgement.errorNumber) &+ (acknowledgement.message?.utf8.count ?? 0)
            }
        case NetlinkMessage.Kind.newLink:
            if let device = try? NetworkDevice(message: message) {
                total &+= Int(device.index) &+ device.name.utf8.count &+ Int(device.xdp.genericProgramID ?? 0)
            }
        case NetlinkMessage.Kind.newQdisc:
            if let qdisc = try? Qdisc(message: message) { total &+= qdisc.kind.utf8.count }
        case NetlinkMessage.Kind.newFilter:
            if let filter = try? TrafficControlFilter(message: message) {
                total &+= Int(filter.programID ?? 0) &+ (filter.programTag?.count ?? 0)
            }
        default:
            break
        }
        total &+= walk(message.payload, depth: 0)
    }
    return total == Int.min ? 1 : 0
}

/// Decodes `bytes` as attributes and every attribute's payload as a nest, a few levels deep.
private func walk(_ bytes: [UInt8], depth: Int) -> Int {
    guard depth < 4, let attributes = try? NetlinkAttribute.decodeAll(bytes) else { return 0 }
    var total = 0
    for attribute in attributes {
        total &+= Int(attribute.type) &+ ((try? attribute.uint32()).map(Int.init) ?? 0)
        total &+= walk(attribute.payload, depth: depth + 1)
    }
    return total
}

/// Replies of each kind the client reads, built with the library's own encoders.
func netlinkSeeds() -> [(name: String, bytes: [UInt8])] {
    func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    var seeds: [(name: String, bytes: [UInt8])] = []
    do {
        var link = NetlinkAttributeWriter()
        try link.append(3, string: "veth0")
        try link.append(5, integer: UInt32(7))
        try link.appendNested(18) { (info) throws(NetlinkError) in
            try info.append(1, string: "netkit")
            try info.appendNested(2) { (data) throws(NetlinkError) in try data.append(2, bytes: [1]) }
        }
        try link.appendNested(43) { (xdp) throws(NetlinkError) in
            try xdp.append(2, bytes: [2])
            try xdp.append(4, integer: UInt32(9))
        }
        let device = NetlinkMessage(
            type: NetlinkMessage.Kind.newLink, flags: .multipart, sequence: 1,
            payload: InterfaceInfoHeader(index: 3, flags: 1).encoded() + link.bytes)
        var filter = NetlinkAttributeWriter()
        try filter.append(1, string: "bpf")
        try filter.appendNested(2) { (options) throws(NetlinkError) in
            try options.append(7, string: "classifier")
            try options.append(8, integer: UInt32(1))
            try options.append(10, bytes: [1, 2, 3, 4, 5, 6, 7, 8])
            try options.append(11, integer: UInt32(42))
        }
        let filterMessage = NetlinkMessage(
            type: NetlinkMessage.Kind.newFilter, flags: [], sequence: 2,
            payload: TrafficControlHeader(interfaceIndex: 3, handle: 1, parent: 0xFFFF_FFF2, info: 1 << 16 | 0x0300).encoded()
                + filter.bytes)
        var qdisc = NetlinkAttributeWriter()
        try qdisc.append(1, string: "clsact")
        let qdiscMessage = NetlinkMessage(
            type: NetlinkMessage.Kind.newQdisc, flags: [], sequence: 3,
            payload: TrafficControlHeader(interfaceIndex: 3, handle: 0xFFFF_0000, parent: 0xFFFF_FFF1).encoded() + qdisc.bytes)
        var extendedAck = NetlinkAttributeWriter()
        try extendedAck.append(1, string: "Filter already exists")
        try extendedAck.append(2, integer: UInt32(36))
        let echoed = try NetlinkMessage(type: NetlinkMessage.Kind.newFilter, flags: .request, sequence: 4).encoded()
        let error = NetlinkMessage(
            type: NetlinkMessage.Kind.error, flags: [.capped, .acknowledgementAttributes], sequence: 4,
            payload: le32(UInt32(bitPattern: -17)) + echoed + extendedAck.bytes)
        let done = NetlinkMessage(type: NetlinkMessage.Kind.done, flags: .multipart, sequence: 1, payload: le32(0))
        seeds.append(("dump", try device.encoded() + done.encoded()))
        seeds.append(("filter", try filterMessage.encoded()))
        seeds.append(("qdisc", try qdiscMessage.encoded()))
        seeds.append(("error", try error.encoded()))
    } catch {
        FuzzDriver.fail("building seeds: \(error)")
    }
    return seeds
}

@_cdecl("fuzz_netlink_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzNetlink, seeds: netlinkSeeds)
}
