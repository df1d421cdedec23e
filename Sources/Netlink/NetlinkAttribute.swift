/// One netlink attribute (`struct nlattr`): a type and a payload, possibly holding further
/// attributes (a nest).
///
/// ```swift
/// var writer = NetlinkAttributeWriter()
/// try writer.append(3, string: "eth0")          // IFLA_IFNAME
/// let attributes = try NetlinkAttribute.decodeAll(writer.bytes)
/// let name = try attributes.first { $0.type == 3 }?.string()
/// ```
public struct NetlinkAttribute: Sendable, Equatable {
    /// The size of `struct nlattr`.
    public static let headerSize = 4
    /// `NLA_F_NESTED`.
    public static let nestedFlag: UInt16 = 1 << 15
    /// `NLA_F_NET_BYTEORDER`.
    public static let networkByteOrderFlag: UInt16 = 1 << 14

    /// The attribute type without the nested and byte-order flag bits.
    public var type: UInt16
    /// Whether the sender marked the attribute as nested (`NLA_F_NESTED`). Older kernel code
    /// nests without setting it, so ``nested()`` does not require it.
    public var isNested: Bool
    public var payload: [UInt8]
    /// Where the attribute's header starts in the buffer it was decoded from (for error messages).
    public var offset: Int

    public init(type: UInt16, isNested: Bool = false, payload: [UInt8], offset: Int = 0) {
        self.type = type
        self.isNested = isNested
        self.payload = payload
        self.offset = offset
    }

    /// Decodes a run of attributes. `baseOffset` is added to the offsets reported in errors and
    /// stored in the attributes, so they name positions in the whole message.
    /// - Throws: ``NetlinkError/malformed(what:offset:detail:)`` for an attribute header cut short
    ///   or a length that runs past the buffer.
    public static func decodeAll(_ bytes: some RandomAccessCollection<UInt8>, baseOffset: Int = 0) throws(NetlinkError)
        -> [NetlinkAttribute]
    {
        let buffer = Array(bytes)
        let reader = HostBytes(buffer)
        var attributes: [NetlinkAttribute] = []
        var offset = 0
        while offset < buffer.count {
            let remaining = buffer.count - offset
            guard remaining >= headerSize else {
                // The kernel's nla_for_each_attr ignores a tail shorter than a header; so does iproute2.
                break
            }
            let length = Int(reader.uint16(at: offset))
            let rawType = reader.uint16(at: offset + 2)
            guard length >= headerSize, length <= remaining else {
                throw .malformed(
                    what: "attribute (type \(rawType & ~(nestedFlag | networkByteOrderFlag)))", offset: baseOffset &+ offset,
                    detail: "nla_len \(length) is outside \(headerSize)...\(remaining)")
            }
            attributes.append(
                NetlinkAttribute(
                    type: rawType & ~(nestedFlag | networkByteOrderFlag), isNested: rawType & nestedFlag != 0,
                    payload: Array(buffer[(offset + headerSize)..<(offset + length)]), offset: baseOffset &+ offset))
            offset += min(NetlinkAlignment.aligned(length), remaining)
        }
        return attributes
    }

    /// The attributes inside this one.
    public func nested() throws(NetlinkError) -> [NetlinkAttribute] {
        try Self.decodeAll(payload, baseOffset: offset &+ Self.headerSize)
    }

    /// The payload as a `UInt8`.
    public func uint8() throws(NetlinkError) -> UInt8 {
        try requireSize(1)
        return payload[0]
    }

    /// The payload as a host-order `UInt16`.
    public func uint16() throws(NetlinkError) -> UInt16 {
        try requireSize(2)
        return HostBytes(payload).uint16(at: 0)
    }

    /// The payload as a host-order `UInt32`.
    public func uint32() throws(NetlinkError) -> UInt32 {
        try requireSize(4)
        return HostBytes(payload).uint32(at: 0)
    }

    /// The payload as a host-order `Int32`.
    public func int32() throws(NetlinkError) -> Int32 { Int32(bitPattern: try uint32()) }

    /// The payload as a string, up to its first NUL (the kernel terminates most strings with one).
    public func string() throws(NetlinkError) -> String {
        String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
    }

    private func requireSize(_ size: Int) throws(NetlinkError) {
        guard payload.count >= size else {
            throw .malformed(
                what: "attribute (type \(type))", offset: offset,
                detail: "payload of \(payload.count) bytes, a value needs \(size)")
        }
    }
}

extension Array where Element == NetlinkAttribute {
    /// The first attribute of `type`, or nil.
    public func first(ofType type: UInt16) -> NetlinkAttribute? { first { $0.type == type } }
}

/// Builds a run of netlink attributes, with nests.
public struct NetlinkAttributeWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends an attribute with `payload`, padded to 4 bytes.
    public mutating func append(_ type: UInt16, bytes payload: [UInt8]) throws(NetlinkError) {
        guard let length = UInt16(exactly: NetlinkAttribute.headerSize + payload.count) else {
            throw .invalidArgument("attribute \(type) payload of \(payload.count) bytes exceeds nla_len")
        }
        bytes.appendHost(length)
        bytes.appendHost(type)
        bytes += payload
        bytes.padToAlignment()
    }

    /// Appends a host-order integer attribute.
    public mutating func append<Value: FixedWidthInteger>(_ type: UInt16, integer value: Value) throws(NetlinkError) {
        var payload: [UInt8] = []
        payload.appendHost(value)
        try append(type, bytes: payload)
    }

    /// Appends a NUL-terminated string attribute.
    public mutating func append(_ type: UInt16, string: String) throws(NetlinkError) {
        try append(type, bytes: Array(string.utf8) + [0])
    }

    /// Appends an attribute marked `NLA_F_NESTED` holding what `body` writes.
    public mutating func appendNested(
        _ type: UInt16, _ body: (inout NetlinkAttributeWriter) throws(NetlinkError) -> Void
    ) throws(NetlinkError) {
        var inner = NetlinkAttributeWriter()
        try body(&inner)
        try append(type | NetlinkAttribute.nestedFlag, bytes: inner.bytes)
    }

    /// Appends a nest whose payload starts with a fixed header (such as `VETH_INFO_PEER`'s
    /// `ifinfomsg`) followed by attributes. It is not marked `NLA_F_NESTED`: the kernel declares
    /// such attributes by length, as iproute2 sends them.
    public mutating func appendNested(
        _ type: UInt16, header: [UInt8], _ body: (inout NetlinkAttributeWriter) throws(NetlinkError) -> Void
    ) throws(NetlinkError) {
        var inner = NetlinkAttributeWriter()
        try body(&inner)
        var payload = header
        payload.padToAlignment()
        try append(type, bytes: payload + inner.bytes)
    }
}
