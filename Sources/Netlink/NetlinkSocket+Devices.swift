/// `struct ifinfomsg`: the fixed header of `RTM_*LINK` messages.
public struct InterfaceInfoHeader: Sendable, Equatable {
    public static let size = 16
    public var family: UInt8 = 0  // AF_UNSPEC
    public var deviceType: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.index = index
        self.flags = flags
        self.change = change
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [family, 0]
        bytes.appendHost(deviceType)
        bytes.appendHost(index)
        bytes.appendHost(flags)
        bytes.appendHost(change)
        return bytes
    }

    /// Reads the header at the start of `payload`.
    public init(decoding payload: [UInt8]) throws(NetlinkError) {
        guard payload.count >= Self.size else {
            throw .malformed(
                what: "ifinfomsg", offset: NetlinkMessage.headerSize, detail: "\(payload.count) bytes, needs \(Self.size)")
        }
        let reader = HostBytes(payload)
        family = payload[0]
        deviceType = reader.uint16(at: 2)
        index = Int32(bitPattern: reader.uint32(at: 4))
        flags = reader.uint32(at: 8)
        change = reader.uint32(at: 12)
    }
}

/// Link attribute numbers (`IFLA_*`) this client uses.
enum LinkAttribute {
    static let name: UInt16 = 3
    static let link: UInt16 = 5
    static let linkInfo: UInt16 = 18
    static let namespaceDescriptor: UInt16 = 28
    static let xdp: UInt16 = 43
    /// `IFLA_INFO_KIND` and `IFLA_INFO_DATA` inside `IFLA_LINKINFO`.
    static let infoKind: UInt16 = 1
    static let infoData: UInt16 = 2
    /// `VETH_INFO_PEER` inside veth's `IFLA_INFO_DATA`.
    static let vethPeer: UInt16 = 1
    /// `IFLA_NETKIT_*` inside netkit's `IFLA_INFO_DATA` (Linux 6.7; the scrub attributes 6.10).
    static let netkitPeerInfo: UInt16 = 1
    static let netkitPrimary: UInt16 = 2
    static let netkitPolicy: UInt16 = 3
    static let netkitPeerPolicy: UInt16 = 4
    static let netkitMode: UInt16 = 5
}

/// A network device as `RTM_GETLINK` reports it.
public struct NetworkDevice: Sendable, Equatable {
    /// `IFF_UP`.
    public static let upFlag: UInt32 = 1

    public var index: UInt32
    public var name: String
    /// `IFLA_INFO_KIND` (`veth`, `netkit`, ...), nil for devices without one (such as `lo`).
    public var kind: String?
    /// `IFF_*` flags.
    public var flags: UInt32
    /// `IFLA_LINK`: for a veth or netkit device, its peer's index (in the peer's namespace).
    public var linkIndex: UInt32?
    /// For netkit: whether this is the primary device (`IFLA_NETKIT_PRIMARY`).
    public var isNetkitPrimary: Bool?
    /// The XDP programs attached to the device, by mode.
    public var xdp: XDPState

    public var isUp: Bool { flags & Self.upFlag != 0 }

    /// Reads an `RTM_NEWLINK` message (what `RTM_GETLINK` answers).
    public init(message: NetlinkMessage) throws(NetlinkError) {
        let header = try InterfaceInfoHeader(decoding: message.payload)
        let attributes = try NetlinkAttribute.decodeAll(
            message.payload[InterfaceInfoHeader.size...], baseOffset: NetlinkMessage.headerSize + InterfaceInfoHeader.size)
        index = UInt32(bitPattern: header.index)
        flags = header.flags
        name = try attributes.first(ofType: LinkAttribute.name)?.string() ?? ""
        linkIndex = try attributes.first(ofType: LinkAttribute.link)?.uint32()
        xdp = try attributes.first(ofType: LinkAttribute.xdp).map { (attribute) throws(NetlinkError) in
            try XDPState(attribute.nested())
        } ?? XDPState()
        if let info = try attributes.first(ofType: LinkAttribute.linkInfo)?.nested() {
            kind = try info.first(ofType: LinkAttribute.infoKind)?.string()
            if kind == "netkit", let data = try info.first(ofType: LinkAttribute.infoData)?.nested() {
                isNetkitPrimary = try data.first(ofType: LinkAttribute.netkitPrimary).map { (attribute) throws(NetlinkError) in
                    try attribute.uint8() != 0
                }
            }
        }
    }
}

/// netkit device settings (`IFLA_NETKIT_*`). Requires Linux 6.7 with `CONFIG_NETKIT`.
public struct NetkitOptions: Sendable, Equatable {
    /// `NETKIT_L2` or `NETKIT_L3` (the kernel's default: no Ethernet addresses, no ARP).
    public enum Mode: UInt32, Sendable { case layer2 = 0, layer3 = 1 }
    /// What a device does with a packet when no program is attached (`NETKIT_PASS`, `NETKIT_DROP`).
    public enum Policy: UInt32, Sendable { case pass = 0, drop = 2 }

    public var mode: Mode
    public var primaryPolicy: Policy
    public var peerPolicy: Policy

    public init(mode: Mode = .layer3, primaryPolicy: Policy = .pass, peerPolicy: Policy = .pass) {
        self.mode = mode
        self.primaryPolicy = primaryPolicy
        self.peerPolicy = peerPolicy
    }
}

extension NetlinkSocket {
    /// The kernel's limit on interface names (`IFNAMSIZ` minus the NUL).
    static let maximumNameLength = 15

    /// Creates a veth pair `name` and `peerName` (`RTM_NEWLINK`, kind `veth`). With
    /// `peerNamespaceDescriptor` (an open `/proc/PID/ns/net` or `/run/netns/NAME`), the peer is
    /// created in that network namespace. Both ends start down.
    public func createVethPair(name: String, peerName: String, peerNamespaceDescriptor: Int32? = nil) throws(NetlinkError) {
        try createPair(kind: "veth", name: name, peerName: peerName, peerNamespaceDescriptor: peerNamespaceDescriptor) {
            (data, peer) throws(NetlinkError) in
            try data.appendNested(LinkAttribute.vethPeer, header: InterfaceInfoHeader().encoded(), peer)
        }
    }

    /// Creates a netkit pair: `name` is the primary device (programs for both ends attach through
    /// it), `peerName` the peer, optionally in another network namespace. Requires Linux 6.7
    /// with `CONFIG_NETKIT`; elsewhere the kernel answers `EOPNOTSUPP` ("Unknown device type").
    public func createNetkitPair(
        name: String, peerName: String, options: NetkitOptions = NetkitOptions(), peerNamespaceDescriptor: Int32? = nil
    ) throws(NetlinkError) {
        try createPair(kind: "netkit", name: name, peerName: peerName, peerNamespaceDescriptor: peerNamespaceDescriptor) {
            (data, peer) throws(NetlinkError) in
            try data.append(LinkAttribute.netkitPolicy, integer: options.primaryPolicy.rawValue)
            try data.append(LinkAttribute.netkitPeerPolicy, integer: options.peerPolicy.rawValue)
            try data.append(LinkAttribute.netkitMode, integer: options.mode.rawValue)
            try data.appendNested(LinkAttribute.netkitPeerInfo, header: InterfaceInfoHeader().encoded(), peer)
        }
    }

    private func createPair(
        kind: String, name: String, peerName: String, peerNamespaceDescriptor: Int32?,
        _ data: (inout NetlinkAttributeWriter, (inout NetlinkAttributeWriter) throws(NetlinkError) -> Void) throws(NetlinkError) -> Void
    ) throws(NetlinkError) {
        try Self.validate(name: name)
        try Self.validate(name: peerName)
        var attributes = NetlinkAttributeWriter()
        try attributes.append(LinkAttribute.name, string: name)
        try attributes.appendNested(LinkAttribute.linkInfo) { (info) throws(NetlinkError) in
            try info.append(LinkAttribute.infoKind, string: kind)
            try info.appendNested(LinkAttribute.infoData) { (infoData) throws(NetlinkError) in
                try data(&infoData) { (peer) throws(NetlinkError) in
                    try peer.append(LinkAttribute.name, string: peerName)
                    if let peerNamespaceDescriptor {
                        try peer.append(LinkAttribute.namespaceDescriptor, integer: peerNamespaceDescriptor)
                    }
                }
            }
        }
        // Whether `name` is taken before the request, so that a device left by a request whose
        // reply is lost is known to be this one.
        let existedBefore: Bool
        do {
            _ = try device(named: name)
            existedBefore = true
        } catch {
            guard error.errno == .noSuchDevice else { throw error }
            existedBefore = false
        }
        do {
            try request(
                type: NetlinkMessage.Kind.newLink, flags: [.create, .exclusive],
                payload: InterfaceInfoHeader().encoded() + attributes.bytes, operation: "create \(kind) pair \(name)/\(peerName)")
        } catch {
            if case .noReply = error, !existedBefore, let created = try? device(named: name), created.kind == kind {
                // Deleting one end deletes the pair.
                try? deleteDevice(index: created.index)
            }
            throw error
        }
    }

    /// Deletes the device with `index` (`RTM_DELLINK`); deleting one end of a pair deletes both.
    public func deleteDevice(index: UInt32) throws(NetlinkError) {
        try request(
            type: NetlinkMessage.Kind.deleteLink, payload: InterfaceInfoHeader(index: try Self.kernelIndex(index)).encoded(),
            operation: "delete device \(index)")
    }

    /// Sets the device up or down (`IFF_UP` through `RTM_NEWLINK`).
    public func setDevice(index: UInt32, up: Bool) throws(NetlinkError) {
        let header = InterfaceInfoHeader(
            index: try Self.kernelIndex(index), flags: up ? NetworkDevice.upFlag : 0, change: NetworkDevice.upFlag)
        try request(
            type: NetlinkMessage.Kind.newLink, payload: header.encoded(), operation: "set device \(index) \(up ? "up" : "down")")
    }

    /// Moves the device into the network namespace open as `namespaceDescriptor` (`IFLA_NET_NS_FD`).
    /// Its index may change there; look it up by name in the new namespace.
    public func moveDevice(index: UInt32, toNamespaceDescriptor namespaceDescriptor: Int32) throws(NetlinkError) {
        var attributes = NetlinkAttributeWriter()
        try attributes.append(LinkAttribute.namespaceDescriptor, integer: namespaceDescriptor)
        try request(
            type: NetlinkMessage.Kind.newLink,
            payload: InterfaceInfoHeader(index: try Self.kernelIndex(index)).encoded() + attributes.bytes,
            operation: "move device \(index) to namespace descriptor \(namespaceDescriptor)")
    }

    /// The device named `name` (`RTM_GETLINK` with `IFLA_IFNAME`); the kernel answers `ENODEV`
    /// when there is none.
    public func device(named name: String) throws(NetlinkError) -> NetworkDevice {
        try Self.validate(name: name)
        var attributes = NetlinkAttributeWriter()
        try attributes.append(LinkAttribute.name, string: name)
        return try singleDevice(payload: InterfaceInfoHeader().encoded() + attributes.bytes, operation: "get device \(name)")
    }

    /// The device with `index`.
    public func device(index: UInt32) throws(NetlinkError) -> NetworkDevice {
        try singleDevice(
            payload: InterfaceInfoHeader(index: try Self.kernelIndex(index)).encoded(), operation: "get device \(index)")
    }

    /// Every device of the socket's network namespace (an `RTM_GETLINK` dump).
    public func devices() throws(NetlinkError) -> [NetworkDevice] {
        var result: [NetworkDevice] = []
        for message in try dump(type: NetlinkMessage.Kind.getLink, payload: InterfaceInfoHeader().encoded(), operation: "list devices")
        where message.type == NetlinkMessage.Kind.newLink {
            result.append(try NetworkDevice(message: message))
        }
        return result
    }

    /// Adds the IPv4 address `address` (four bytes, most significant first) with
    /// `prefixLength` to the device (`RTM_NEWADDR`).
    public func addIPv4Address(_ address: [UInt8], prefixLength: UInt8, deviceIndex: UInt32) throws(NetlinkError) {
        guard address.count == 4, prefixLength <= 32 else {
            throw .invalidArgument("IPv4 address needs 4 bytes and a prefix of at most 32, not \(address.count) and \(prefixLength)")
        }
        var header: [UInt8] = [UInt8(AddressFamily.inet), prefixLength, 0, 0]  // family, prefix, flags, scope universe
        header.appendHost(deviceIndex)
        var attributes = NetlinkAttributeWriter()
        try attributes.append(1, bytes: address)  // IFA_ADDRESS
        try attributes.append(2, bytes: address)  // IFA_LOCAL
        try request(
            type: NetlinkMessage.Kind.newAddress, flags: [.create, .exclusive], payload: header + attributes.bytes,
            operation: "add address \(address.map(String.init).joined(separator: "."))/\(prefixLength) to device \(deviceIndex)")
    }

    private func singleDevice(payload: [UInt8], operation: String) throws(NetlinkError) -> NetworkDevice {
        let replies = try request(type: NetlinkMessage.Kind.getLink, payload: payload, operation: operation)
        guard let message = replies.first(where: { $0.type == NetlinkMessage.Kind.newLink }) else {
            throw .malformed(what: "reply to \(operation)", offset: 0, detail: "no RTM_NEWLINK message")
        }
        return try NetworkDevice(message: message)
    }

    static func validate(name: String) throws(NetlinkError) {
        guard !name.isEmpty, name.utf8.count <= maximumNameLength, !name.utf8.contains(0), !name.contains("/") else {
            throw .invalidArgument("interface name '\(name)' must have 1 to \(maximumNameLength) bytes, no NUL and no '/'")
        }
    }

    static func kernelIndex(_ index: UInt32) throws(NetlinkError) -> Int32 {
        guard let value = Int32(exactly: index), value > 0 else {
            throw .invalidArgument("interface index \(index) is outside 1...\(Int32.max)")
        }
        return value
    }
}

/// Address families used in message headers.
enum AddressFamily {
    static let unspecified = 0
    static let inet = 2
}
