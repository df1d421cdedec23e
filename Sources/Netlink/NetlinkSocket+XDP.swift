/// The XDP programs on a device, as `IFLA_XDP` in an `RTM_GETLINK` reply reports them.
public struct XDPState: Sendable, Equatable {
    /// `IFLA_XDP_ATTACHED`: `XDP_ATTACHED_NONE` (0), `_DRV` (1), `_SKB` (2), `_HW` (3) or
    /// `_MULTI` (4, programs in more than one mode).
    public var attachedMode: UInt8 = 0
    /// `IFLA_XDP_PROG_ID`: the program when exactly one mode has one.
    public var programID: UInt32?
    /// `IFLA_XDP_DRV_PROG_ID`, `IFLA_XDP_SKB_PROG_ID`, `IFLA_XDP_HW_PROG_ID` (sent with
    /// `XDP_ATTACHED_MULTI`; filled from `programID` and `attachedMode` otherwise).
    public var driverProgramID: UInt32?
    public var genericProgramID: UInt32?
    public var hardwareProgramID: UInt32?

    public init() {}

    /// Reads the attributes inside `IFLA_XDP`.
    public init(_ attributes: [NetlinkAttribute]) throws(NetlinkError) {
        attachedMode = try attributes.first(ofType: XDPAttribute.attached)?.uint8() ?? 0
        programID = try attributes.first(ofType: XDPAttribute.programID)?.uint32()
        driverProgramID = try attributes.first(ofType: XDPAttribute.driverProgramID)?.uint32()
        genericProgramID = try attributes.first(ofType: XDPAttribute.genericProgramID)?.uint32()
        hardwareProgramID = try attributes.first(ofType: XDPAttribute.hardwareProgramID)?.uint32()
        switch attachedMode {
        case 1: driverProgramID = driverProgramID ?? programID
        case 2: genericProgramID = genericProgramID ?? programID
        case 3: hardwareProgramID = hardwareProgramID ?? programID
        default: break
        }
    }
}

/// `IFLA_XDP_*` attribute numbers.
enum XDPAttribute {
    static let descriptor: UInt16 = 1
    static let attached: UInt16 = 2
    static let flags: UInt16 = 3
    static let programID: UInt16 = 4
    static let driverProgramID: UInt16 = 5
    static let genericProgramID: UInt16 = 6
    static let hardwareProgramID: UInt16 = 7
    static let expectedDescriptor: UInt16 = 8
}

extension NetlinkSocket {
    /// Sets the device's XDP program (`RTM_SETLINK` with `IFLA_XDP`): `programDescriptor` is an
    /// `XDP` program, or -1 to detach; `flags` are `XDP_FLAGS_*` (mode, `UPDATE_IF_NOEXIST`,
    /// `REPLACE`); with `XDP_FLAGS_REPLACE`, `expectedDescriptor` is the program that must be
    /// attached now (-1 for none) or the kernel answers `EEXIST` (Linux 5.7).
    public func setXDP(
        interfaceIndex: UInt32, programDescriptor: Int32, flags: UInt32, expectedDescriptor: Int32? = nil
    ) throws(NetlinkError) {
        var attributes = NetlinkAttributeWriter()
        try attributes.appendNested(LinkAttribute.xdp) { (xdp) throws(NetlinkError) in
            try xdp.append(XDPAttribute.descriptor, integer: programDescriptor)
            if flags != 0 { try xdp.append(XDPAttribute.flags, integer: flags) }
            if let expectedDescriptor { try xdp.append(XDPAttribute.expectedDescriptor, integer: expectedDescriptor) }
        }
        let verb = programDescriptor < 0 ? "detach XDP from" : "attach XDP to"
        try request(
            type: NetlinkMessage.Kind.setLink,
            payload: InterfaceInfoHeader(index: try Self.kernelIndex(interfaceIndex)).encoded() + attributes.bytes,
            operation: "\(verb) interface \(interfaceIndex) (flags 0x\(String(flags, radix: 16)))")
    }

    /// The XDP programs on the device.
    public func xdpState(interfaceIndex: UInt32) throws(NetlinkError) -> XDPState {
        try device(index: interfaceIndex).xdp
    }
}
