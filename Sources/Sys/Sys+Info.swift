// The protocols of the info structs `BPF_OBJ_GET_INFO_BY_FD` fills, and conveniences over them.
// The structs are generated (Generated/ObjectInfo.swift, Generated/LinkInfoExtras.swift).

/// An info struct `BPF_OBJ_GET_INFO_BY_FD` can fill: plain data with an all-zero initial value.
public protocol BPFObjectInfo: BitwiseCopyable, Sendable {
    init()
}

/// A member of the union at the end of `struct bpf_link_info`. Conforming types are at most 48
/// bytes (the layout tests check it).
public protocol LinkInfoExtra: BitwiseCopyable, Sendable {
    init()
}

extension ProgInfo {
    /// The bit field `gpl_compatible`.
    public var isGPLCompatible: Bool {
        gplCompatible & 1 != 0
    }

    /// The program's tag (a hash of its instructions) as the kernel stores it: 8 bytes, in memory
    /// order.
    public var tagBytes: [UInt8] {
        withUnsafeBytes(of: tag) { Array($0) }
    }
}

extension LinkInfo {
    /// The union member for this link's type (all zero for a type larger than the union).
    public func extra<Extra: LinkInfoExtra>(as type: Extra.Type) -> Extra {
        withUnsafeBytes(of: extra) { bytes in
            guard MemoryLayout<Extra>.size <= bytes.count else { return Extra() }
            return bytes.loadUnaligned(as: Extra.self)
        }
    }

    /// Stores a union member, for instance to point `tp_name` at a buffer before the call. A type
    /// larger than the union is ignored.
    public mutating func setExtra<Extra: LinkInfoExtra>(_ value: Extra) {
        withUnsafeMutableBytes(of: &extra) { bytes in
            guard MemoryLayout<Extra>.size <= bytes.count else { return }
            bytes.storeBytes(of: value, as: Extra.self)
        }
    }
}
