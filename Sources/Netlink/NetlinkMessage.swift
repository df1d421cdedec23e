/// Flags of a netlink message header (`NLM_F_*`). The same bits mean different things in
/// requests and in replies, as in the kernel's header.
public struct NetlinkMessageFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `NLM_F_REQUEST`: a request to the kernel.
    public static let request = NetlinkMessageFlags(rawValue: 0x01)
    /// `NLM_F_MULTI`: one of several parts of a reply, ended by `NLMSG_DONE`.
    public static let multipart = NetlinkMessageFlags(rawValue: 0x02)
    /// `NLM_F_ACK`: asks for an acknowledgement (an `NLMSG_ERROR` carrying 0 on success).
    public static let acknowledge = NetlinkMessageFlags(rawValue: 0x04)
    /// `NLM_F_ECHO`: asks the kernel to send the created object back.
    public static let echo = NetlinkMessageFlags(rawValue: 0x08)
    /// `NLM_F_ROOT | NLM_F_MATCH`: a dump of every object of the kind.
    public static let dump = NetlinkMessageFlags(rawValue: 0x300)
    /// `NLM_F_REPLACE`: replace an existing object.
    public static let replace = NetlinkMessageFlags(rawValue: 0x100)
    /// `NLM_F_EXCL`: fail with `EEXIST` when the object exists.
    public static let exclusive = NetlinkMessageFlags(rawValue: 0x200)
    /// `NLM_F_CREATE`: create the object if it does not exist.
    public static let create = NetlinkMessageFlags(rawValue: 0x400)
    /// `NLM_F_CAPPED` on an `NLMSG_ERROR` reply: the echoed request is only its header.
    public static let capped = NetlinkMessageFlags(rawValue: 0x100)
    /// `NLM_F_ACK_TLVS` on an `NLMSG_ERROR` or `NLMSG_DONE` reply: extended-ack attributes follow.
    public static let acknowledgementAttributes = NetlinkMessageFlags(rawValue: 0x200)
}

/// One netlink message: the 16-byte header (`struct nlmsghdr`) and its payload, in host byte order.
///
/// ```swift
/// let message = NetlinkMessage(type: NetlinkMessage.Kind.getLink, flags: [.request, .dump], payload: header)
/// let decoded = try NetlinkMessage.decode(message.encoded())
/// ```
public struct NetlinkMessage: Sendable, Equatable {
    /// The size of `struct nlmsghdr`.
    public static let headerSize = 16

    /// Message types this library sends or reads.
    public enum Kind {
        /// `NLMSG_NOOP`.
        public static let noop: UInt16 = 1
        /// `NLMSG_ERROR`: an error, or with error 0 an acknowledgement.
        public static let error: UInt16 = 2
        /// `NLMSG_DONE`: the end of a multipart reply.
        public static let done: UInt16 = 3
        /// `NLMSG_OVERRUN`.
        public static let overrun: UInt16 = 4
        /// `RTM_NEWLINK`, `RTM_DELLINK`, `RTM_GETLINK`, `RTM_SETLINK`.
        public static let newLink: UInt16 = 16
        public static let deleteLink: UInt16 = 17
        public static let getLink: UInt16 = 18
        public static let setLink: UInt16 = 19
        /// `RTM_NEWADDR`.
        public static let newAddress: UInt16 = 20
        /// `RTM_NEWQDISC`, `RTM_DELQDISC`, `RTM_GETQDISC`.
        public static let newQdisc: UInt16 = 36
        public static let deleteQdisc: UInt16 = 37
        public static let getQdisc: UInt16 = 38
        /// `RTM_NEWTFILTER`, `RTM_DELTFILTER`, `RTM_GETTFILTER`.
        public static let newFilter: UInt16 = 44
        public static let deleteFilter: UInt16 = 45
        public static let getFilter: UInt16 = 46
    }

    public var type: UInt16
    public var flags: NetlinkMessageFlags
    /// `nlmsg_seq`: pairs a reply with its request.
    public var sequence: UInt32
    /// `nlmsg_pid`: the sender's port (0 for the kernel).
    public var portID: UInt32
    public var payload: [UInt8]

    public init(type: UInt16, flags: NetlinkMessageFlags, sequence: UInt32 = 0, portID: UInt32 = 0, payload: [UInt8] = []) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// The message as the kernel reads it: header, payload, padding to 4 bytes.
    /// - Throws: ``NetlinkError/invalidArgument(_:)`` when the payload does not fit `nlmsg_len`.
    public func encoded() throws(NetlinkError) -> [UInt8] {
        let length = Self.headerSize + payload.count
        guard let length32 = UInt32(exactly: length) else {
            throw .invalidArgument("message payload of \(payload.count) bytes exceeds nlmsg_len")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(NetlinkAlignment.aligned(length))
        bytes.appendHost(length32)
        bytes.appendHost(type)
        bytes.appendHost(flags.rawValue)
        bytes.appendHost(sequence)
        bytes.appendHost(portID)
        bytes += payload
        bytes.padToAlignment()
        return bytes
    }

    /// Splits a datagram from a netlink socket into its messages.
    /// - Throws: ``NetlinkError/malformed(what:offset:detail:)`` naming the byte offset of a
    ///   header that is cut short or whose length runs past the datagram.
    public static func decode(_ bytes: some RandomAccessCollection<UInt8>) throws(NetlinkError) -> [NetlinkMessage] {
        let buffer = Array(bytes)
        var messages: [NetlinkMessage] = []
        var offset = 0
        while offset < buffer.count {
            let remaining = buffer.count - offset
            guard remaining >= headerSize else {
                throw .malformed(
                    what: "message header", offset: offset, detail: "\(remaining) bytes left, a header needs \(headerSize)")
            }
            let reader = HostBytes(buffer)
            let length32 = reader.uint32(at: offset)
            guard let length = Int(exactly: length32), length >= headerSize, length <= remaining else {
                throw .malformed(
                    what: "message header", offset: offset,
                    detail: "nlmsg_len \(length32) is outside \(headerSize)...\(remaining)")
            }
            messages.append(
                NetlinkMessage(
                    type: reader.uint16(at: offset + 4), flags: NetlinkMessageFlags(rawValue: reader.uint16(at: offset + 6)),
                    sequence: reader.uint32(at: offset + 8), portID: reader.uint32(at: offset + 12),
                    payload: Array(buffer[(offset + headerSize)..<(offset + length)])))
            offset += min(NetlinkAlignment.aligned(length), remaining)
        }
        return messages
    }
}

/// Netlink's 4-byte alignment (`NLMSG_ALIGN`, `NLA_ALIGN`).
public enum NetlinkAlignment {
    /// `length` rounded up to a multiple of 4; never overflows for lengths a buffer can hold.
    public static func aligned(_ length: Int) -> Int { (length &+ 3) & ~3 }
}

/// Reads host-order integers from a byte array at offsets the caller has bounds-checked.
struct HostBytes {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func uint16(at offset: Int) -> UInt16 {
        UInt16(hostBytes: bytes[offset], bytes[offset + 1])
    }

    func uint32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<4 { raw[index] = bytes[offset + index] }
        }
        return value
    }
}

extension UInt16 {
    init(hostBytes first: UInt8, _ second: UInt8) {
        var value: UInt16 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            raw[0] = first
            raw[1] = second
        }
        self = value
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in host byte order.
    mutating func appendHost<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) }
    }

    /// Appends zeros up to the next multiple of 4.
    mutating func padToAlignment() {
        append(contentsOf: repeatElement(0, count: NetlinkAlignment.aligned(count) - count))
    }
}
