import EBPFSys
import Testing

@testable import EBPFNetlink

/// Netlink encoding and decoding against byte layouts written out by hand from the kernel's
/// headers (`nlmsghdr`, `nlattr`, `ifinfomsg`, `tcmsg`, `nlmsgerr`); no socket, no root.
@Suite("Netlink message and attribute codec")
struct NetlinkCodecTests {
    private func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    private func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    @Test func messageHeaderLayoutAndPadding() throws {
        let message = NetlinkMessage(
            type: NetlinkMessage.Kind.getLink, flags: [.request, .dump], sequence: 7, portID: 9, payload: [1, 2, 3])
        let bytes = try message.encoded()
        #expect(bytes.count == 20, "16-byte header, 3 bytes of payload, 1 byte of padding")
        #expect(Array(bytes[0..<4]) == le32(19), "nlmsg_len counts the payload, not the padding")
        #expect(Array(bytes[4..<6]) == le16(18))
        #expect(Array(bytes[6..<8]) == le16(0x301))
        #expect(Array(bytes[8..<12]) == le32(7))
        #expect(Array(bytes[12..<16]) == le32(9))
        #expect(Array(bytes[16...]) == [1, 2, 3, 0])
        #expect(try NetlinkMessage.decode(bytes) == [message])
    }

    @Test func decodesSeveralMessagesInOneDatagram() throws {
        let first = NetlinkMessage(type: 16, flags: .multipart, sequence: 1, payload: [9, 9, 9, 9, 9])
        let second = NetlinkMessage(type: NetlinkMessage.Kind.done, flags: .multipart, sequence: 1, payload: le32(0))
        let datagram = try first.encoded() + second.encoded()
        #expect(try NetlinkMessage.decode(datagram) == [first, second])
    }

    @Test func malformedMessagesNameTheOffset() throws {
        let good = try NetlinkMessage(type: 16, flags: [], payload: [1, 2, 3, 4]).encoded()
        #expect(throws: NetlinkError.malformed(what: "message header", offset: 20, detail: "3 bytes left, a header needs 16")) {
            try NetlinkMessage.decode(good + [1, 2, 3])
        }
        var tooLong = good
        tooLong[0] = 200
        #expect {
            try NetlinkMessage.decode(tooLong)
        } throws: { error in
            guard case .malformed(_, let offset, let detail) = error as? NetlinkError else { return false }
            return offset == 0 && detail.contains("200")
        }
        var tooShort = good
        tooShort[0] = 4
        #expect(throws: NetlinkError.self) { try NetlinkMessage.decode(tooShort) }
    }

    @Test func attributesAlignAndNest() throws {
        var writer = NetlinkAttributeWriter()
        try writer.append(3, string: "veth0")
        try writer.append(4, integer: UInt32(1500))
        try writer.appendNested(18) { (info) throws(NetlinkError) in
            try info.append(1, string: "veth")
        }
        let expected: [UInt8] =
            le16(10) + le16(3) + Array("veth0".utf8) + [0, 0, 0]  // 4 + 6 = 10, padded to 12
            + le16(8) + le16(4) + le32(1500)
            + le16(16) + le16(18 | 0x8000) + le16(9) + le16(1) + Array("veth".utf8) + [0, 0, 0, 0]
        #expect(writer.bytes == expected)
        let decoded = try NetlinkAttribute.decodeAll(writer.bytes)
        #expect(decoded.map(\.type) == [3, 4, 18])
        #expect(decoded.map(\.offset) == [0, 12, 20])
        #expect(try decoded[0].string() == "veth0")
        #expect(try decoded[1].uint32() == 1500)
        #expect(decoded[2].isNested)
        let inner = try decoded[2].nested()
        #expect(try inner.first(ofType: 1)?.string() == "veth")
        #expect(inner.first?.offset == 24, "nested offsets count from the start of the outer buffer")
    }

    @Test func nestWithFixedHeaderIsNotFlagged() throws {
        var writer = NetlinkAttributeWriter()
        try writer.appendNested(1, header: InterfaceInfoHeader().encoded()) { (peer) throws(NetlinkError) in
            try peer.append(3, string: "p")
        }
        #expect(Array(writer.bytes[0..<4]) == le16(4 + 16 + 8) + le16(1))
        #expect(Array(writer.bytes[4..<20]) == [UInt8](repeating: 0, count: 16))
    }

    @Test func malformedAttributesAndShortValues() throws {
        let bad = le16(40) + le16(3) + [1, 2, 3, 4]
        #expect {
            try NetlinkAttribute.decodeAll(bad, baseOffset: 32)
        } throws: { error in
            guard case .malformed(_, let offset, let detail) = error as? NetlinkError else { return false }
            return offset == 32 && detail.contains("40")
        }
        let short = try NetlinkAttribute.decodeAll(le16(6) + le16(4) + [1, 2, 0, 0])
        #expect(throws: NetlinkError.self) { try short[0].uint32() }
        #expect(try short[0].uint16() == UInt16(hostBytes: 1, 2))
        // A tail shorter than an attribute header is ignored, as the kernel does.
        #expect(try NetlinkAttribute.decodeAll(le16(6) + le16(4) + [1, 2, 0, 0] + [7, 7]).count == 1)
    }

    @Test func oversizedValuesAreRefused() {
        var writer = NetlinkAttributeWriter()
        #expect(throws: NetlinkError.self) { try writer.append(1, bytes: [UInt8](repeating: 0, count: 70_000)) }
        #expect(throws: NetlinkError.invalidArgument("interface name 'sixteen-bytes-xx' must have 1 to 15 bytes, no NUL and no '/'")) {
            try NetlinkSocket.validate(name: "sixteen-bytes-xx")
        }
        #expect(throws: NetlinkError.self) { try NetlinkSocket.kernelIndex(0) }
        #expect(throws: NetlinkError.self) { try NetlinkSocket.kernelIndex(UInt32.max) }
    }

    @Test func extendedAcknowledgementCarriesTheKernelText() throws {
        // nlmsgerr: -EEXIST, the capped echo of the request header, then NLMSGERR_ATTR_MSG and _OFFS.
        let echoedHeader = le32(36) + le16(44) + le16(0x605) + le32(5) + le32(0)
        let text = Array("Filter already exists".utf8) + [0]
        let payload =
            le32(UInt32(bitPattern: -17)) + echoedHeader
            + le16(UInt16(4 + text.count)) + le16(1) + text + [0, 0] + le16(8) + le16(2) + le32(40)
        let reply = NetlinkMessage(
            type: NetlinkMessage.Kind.error, flags: [.capped, .acknowledgementAttributes], sequence: 5, payload: payload)
        let acknowledgement = try NetlinkAcknowledgement(reply)
        #expect(acknowledgement.errorNumber == 17)
        #expect(acknowledgement.message == "Filter already exists")
        #expect(acknowledgement.attributeOffset == 40)

        // Not capped: the whole request is echoed and the attributes follow it, aligned.
        let request = try NetlinkMessage(type: 44, flags: .request, payload: [1, 2, 3, 4, 5]).encoded()
        let uncapped = NetlinkMessage(
            type: NetlinkMessage.Kind.error, flags: .acknowledgementAttributes,
            payload: le32(UInt32(bitPattern: -22)) + request.prefix(21) + [0, 0, 0] + le16(8) + le16(1) + Array("bad\0".utf8))
        #expect(try NetlinkAcknowledgement(uncapped).message == "bad")

        let plainAck = NetlinkMessage(type: NetlinkMessage.Kind.error, flags: .capped, payload: le32(0) + echoedHeader)
        let plain = try NetlinkAcknowledgement(plainAck)
        #expect(plain.errorNumber == 0 && plain.message == nil && plain.attributeOffset == nil)
        #expect(throws: NetlinkError.self) {
            try NetlinkAcknowledgement(NetlinkMessage(type: NetlinkMessage.Kind.error, flags: [], payload: le32(0) + [1, 2]))
        }
    }

    @Test func filterMessageDecodes() throws {
        let header = TrafficControlHeader(
            interfaceIndex: 4, handle: 1, parent: ClsactHook.ingress.rawValue, info: NetlinkSocket.filterInfo(priority: 7))
        var attributes = NetlinkAttributeWriter()
        try attributes.append(1, string: "bpf")
        try attributes.appendNested(2) { (options) throws(NetlinkError) in
            try options.append(7, string: "counter")
            try options.append(8, integer: UInt32(1))
            try options.append(10, bytes: [1, 2, 3, 4, 5, 6, 7, 8])
            try options.append(11, integer: UInt32(42))
        }
        let message = NetlinkMessage(type: NetlinkMessage.Kind.newFilter, flags: [], payload: header.encoded() + attributes.bytes)
        let filter = try TrafficControlFilter(message: message)
        #expect(filter.interfaceIndex == 4)
        #expect(filter.handle == 1)
        #expect(filter.priority == 7)
        #expect(filter.ethernetProtocol == 3)
        #expect(filter.parent == 0xFFFF_FFF2)
        #expect(filter.kind == "bpf")
        #expect(filter.programID == 42)
        #expect(filter.programName == "counter")
        #expect(filter.programTag == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(filter.isDirectAction)
        #expect(throws: NetlinkError.self) {
            try TrafficControlFilter(message: NetlinkMessage(type: 44, flags: [], payload: [0, 0, 0]))
        }
    }

    @Test func deviceMessageDecodes() throws {
        var attributes = NetlinkAttributeWriter()
        try attributes.append(3, string: "nk0")
        try attributes.append(5, integer: UInt32(8))
        try attributes.appendNested(18) { (info) throws(NetlinkError) in
            try info.append(1, string: "netkit")
            try info.appendNested(2) { (data) throws(NetlinkError) in try data.append(2, bytes: [1]) }
        }
        try attributes.appendNested(43) { (xdp) throws(NetlinkError) in
            try xdp.append(2, bytes: [2])
            try xdp.append(4, integer: UInt32(77))
        }
        let header = InterfaceInfoHeader(index: 9, flags: NetworkDevice.upFlag)
        let device = try NetworkDevice(
            message: NetlinkMessage(type: NetlinkMessage.Kind.newLink, flags: [], payload: header.encoded() + attributes.bytes))
        #expect(device.index == 9)
        #expect(device.name == "nk0")
        #expect(device.kind == "netkit")
        #expect(device.linkIndex == 8)
        #expect(device.isUp)
        #expect(device.isNetkitPrimary == true)
        #expect(device.xdp.attachedMode == 2)
        #expect(device.xdp.genericProgramID == 77)
        #expect(device.xdp.driverProgramID == nil)
    }

    @Test func requestsUseTheKernelsNumbers() throws {
        #expect(InterfaceInfoHeader(index: 3, flags: 1, change: 1).encoded() == [0, 0] + le16(0) + le32(3) + le32(1) + le32(1))
        #expect(TrafficControlHeader(interfaceIndex: 2, handle: 0xFFFF_0000, parent: 0xFFFF_FFF1).encoded()
            == [0, 0, 0, 0] + le32(2) + le32(0xFFFF_0000) + le32(0xFFFF_FFF1) + le32(0))
        // TC_H_MAKE(7 << 16, htons(ETH_P_ALL)): the protocol in network byte order in the low half.
        #expect(NetlinkSocket.filterInfo(priority: 7) == 7 << 16 | UInt32(UInt16(3).bigEndian))
    }
}
