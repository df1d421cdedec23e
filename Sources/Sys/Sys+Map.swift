// Attribute structs and commands for maps. Layouts follow the kernel's `union bpf_attr` (Linux
// 6.18); sizes include the kernel's trailing padding, and a kernel that knows fewer fields accepts
// the longer struct as long as the fields it does not know are zero.

// MARK: - Attributes

/// Attributes of `BPF_MAP_CREATE`.
public struct MapCreateAttr: BitwiseCopyable, Sendable {
    public var mapType: UInt32 = 0
    public var keySize: UInt32 = 0
    public var valueSize: UInt32 = 0
    public var maxEntries: UInt32 = 0
    public var mapFlags: UInt32 = 0
    public var innerMapFD: UInt32 = 0
    public var numaNode: UInt32 = 0
    public var mapName = BPFObjectName()
    public var mapIfindex: UInt32 = 0
    public var btfFD: UInt32 = 0
    public var btfKeyTypeID: UInt32 = 0
    public var btfValueTypeID: UInt32 = 0
    public var btfVmlinuxValueTypeID: UInt32 = 0
    public var mapExtra: UInt64 = 0
    public var valueTypeBTFObjFD: Int32 = 0
    public var mapTokenFD: Int32 = 0
    public var exclProgHash: UInt64 = 0
    public var exclProgHashSize: UInt32 = 0
    public var padding0: UInt32 = 0

    public init() {}
}

/// Attributes of the single-element map commands (`BPF_MAP_LOOKUP_ELEM`, `BPF_MAP_UPDATE_ELEM`,
/// `BPF_MAP_DELETE_ELEM`, `BPF_MAP_LOOKUP_AND_DELETE_ELEM`); the kernel shares one struct for
/// them. `value` is a union with `next_key` (see ``MapGetNextKeyAttr``).
public struct MapElemAttr: BitwiseCopyable, Sendable {
    public var mapFD: UInt32 = 0
    public var padding0: UInt32 = 0
    public var key: UInt64 = 0
    public var value: UInt64 = 0
    public var flags: UInt64 = 0

    public init() {}
}

/// Attributes of `BPF_MAP_LOOKUP_ELEM`.
public typealias MapLookupElemAttr = MapElemAttr
/// Attributes of `BPF_MAP_UPDATE_ELEM`.
public typealias MapUpdateElemAttr = MapElemAttr
/// Attributes of `BPF_MAP_DELETE_ELEM`.
public typealias MapDeleteElemAttr = MapElemAttr
/// Attributes of `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
public typealias MapLookupAndDeleteElemAttr = MapElemAttr

/// Attributes of `BPF_MAP_GET_NEXT_KEY`: the element struct with the union's `next_key` member.
public struct MapGetNextKeyAttr: BitwiseCopyable, Sendable {
    public var mapFD: UInt32 = 0
    public var padding0: UInt32 = 0
    public var key: UInt64 = 0
    public var nextKey: UInt64 = 0
    public var flags: UInt64 = 0

    public init() {}
}

/// Attributes of the batch map commands (the kernel's `batch` member), shared by
/// `BPF_MAP_LOOKUP_BATCH`, `BPF_MAP_LOOKUP_AND_DELETE_BATCH`, `BPF_MAP_UPDATE_BATCH` and
/// `BPF_MAP_DELETE_BATCH`. The kernel writes `count` (elements processed) and `out_batch`.
public struct MapBatchAttr: BitwiseCopyable, Sendable {
    public var inBatch: UInt64 = 0
    public var outBatch: UInt64 = 0
    public var keys: UInt64 = 0
    public var values: UInt64 = 0
    public var count: UInt32 = 0
    public var mapFD: UInt32 = 0
    public var elemFlags: UInt64 = 0
    public var flags: UInt64 = 0

    public init() {}
}

/// Attributes of `BPF_MAP_LOOKUP_BATCH`.
public typealias MapLookupBatchAttr = MapBatchAttr
/// Attributes of `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
public typealias MapLookupAndDeleteBatchAttr = MapBatchAttr
/// Attributes of `BPF_MAP_UPDATE_BATCH`.
public typealias MapUpdateBatchAttr = MapBatchAttr
/// Attributes of `BPF_MAP_DELETE_BATCH`.
public typealias MapDeleteBatchAttr = MapBatchAttr

/// Attributes of `BPF_MAP_FREEZE`.
public struct MapFreezeAttr: BitwiseCopyable, Sendable {
    public var mapFD: UInt32 = 0

    public init() {}
}

// MARK: - Commands

extension Sys {
    /// `BPF_MAP_CREATE`: creates a map and returns its descriptor.
    public static func mapCreate(_ attributes: MapCreateAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.mapCreate, &attributes)
    }

    /// `BPF_MAP_LOOKUP_ELEM`: copies the value stored under `key` to `value`. `ENOENT` if absent.
    public static func mapLookupElem(_ attributes: MapLookupElemAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapLookupElem, &attributes)
    }

    /// `BPF_MAP_UPDATE_ELEM`: stores `value` under `key`; `flags` are `BPF_ANY`, `BPF_NOEXIST`,
    /// `BPF_EXIST` and `BPF_F_LOCK`.
    public static func mapUpdateElem(_ attributes: MapUpdateElemAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapUpdateElem, &attributes)
    }

    /// `BPF_MAP_DELETE_ELEM`: removes `key`. `ENOENT` if absent.
    public static func mapDeleteElem(_ attributes: MapDeleteElemAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapDeleteElem, &attributes)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: copies out and removes the value under `key` (for queues and
    /// stacks, the next element; `key` is then 0). Requires Linux 4.20 (5.14 for hash maps).
    public static func mapLookupAndDeleteElem(_ attributes: MapLookupAndDeleteElemAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapLookupAndDeleteElem, &attributes)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` (the first key when `key` is 0) to
    /// `next_key`. `ENOENT` after the last key.
    public static func mapGetNextKey(_ attributes: MapGetNextKeyAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapGetNextKey, &attributes)
    }

    /// `BPF_MAP_LOOKUP_BATCH`: copies up to `count` elements, starting after the `in_batch` token
    /// (or at the start when it is 0); writes the next token to `out_batch` and the number copied to
    /// `count`. `ENOENT` when the end was reached (`count` still says how many were copied).
    /// Requires Linux 5.6.
    public static func mapLookupBatch(_ attributes: inout MapLookupBatchAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.mapLookupBatch, &attributes)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: as ``mapLookupBatch(_:)``, removing what it copies.
    public static func mapLookupAndDeleteBatch(_ attributes: inout MapLookupAndDeleteBatchAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.mapLookupAndDeleteBatch, &attributes)
    }

    /// `BPF_MAP_UPDATE_BATCH`: stores `count` key/value pairs; on return `count` is the number
    /// stored, also when it fails part way.
    public static func mapUpdateBatch(_ attributes: inout MapUpdateBatchAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.mapUpdateBatch, &attributes)
    }

    /// `BPF_MAP_DELETE_BATCH`: removes `count` keys; on return `count` is the number removed.
    public static func mapDeleteBatch(_ attributes: inout MapDeleteBatchAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.mapDeleteBatch, &attributes)
    }

    /// `BPF_MAP_FREEZE`: makes the map read-only for user space from now on. Requires Linux 5.2.
    public static func mapFreeze(_ attributes: MapFreezeAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.mapFreeze, &attributes)
    }
}
