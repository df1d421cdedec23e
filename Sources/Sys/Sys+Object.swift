// Attribute structs and commands that work on any BPF object: pinning, IDs, info, BTF, statistics
// and tokens. Layouts follow the kernel's `union bpf_attr` (Linux 6.18).

// MARK: - Attributes

/// Attributes of `BPF_OBJ_PIN` and `BPF_OBJ_GET`.
public struct ObjPinAttr: BitwiseCopyable, Sendable {
    public var pathname: UInt64 = 0
    public var bpfFD: UInt32 = 0
    public var fileFlags: UInt32 = 0
    public var pathFD: Int32 = 0
    public var padding0: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_OBJ_GET`.
public typealias ObjGetAttr = ObjPinAttr

/// Attributes of the ID commands (`BPF_*_GET_NEXT_ID`, `BPF_*_GET_FD_BY_ID`), which the kernel
/// shares. `startID` is a union with `prog_id`, `map_id`, `btf_id` and `link_id`.
public struct ObjectIDAttr: BitwiseCopyable, Sendable {
    public var startID: UInt32 = 0
    public var nextID: UInt32 = 0
    public var openFlags: UInt32 = 0
    public var fdByIDTokenFD: Int32 = 0

    public init() {}

    /// The union member `prog_id`, `map_id`, `btf_id` or `link_id`: the ID whose descriptor the
    /// `GET_FD_BY_ID` commands open. Shares storage with ``startID``.
    public var id: UInt32 {
        get { startID }
        set { startID = newValue }
    }
}

/// Attributes of `BPF_PROG_GET_NEXT_ID`.
public typealias ProgGetNextIDAttr = ObjectIDAttr
/// Attributes of `BPF_MAP_GET_NEXT_ID`.
public typealias MapGetNextIDAttr = ObjectIDAttr
/// Attributes of `BPF_BTF_GET_NEXT_ID`.
public typealias BTFGetNextIDAttr = ObjectIDAttr
/// Attributes of `BPF_LINK_GET_NEXT_ID`.
public typealias LinkGetNextIDAttr = ObjectIDAttr
/// Attributes of `BPF_PROG_GET_FD_BY_ID`.
public typealias ProgGetFDByIDAttr = ObjectIDAttr
/// Attributes of `BPF_MAP_GET_FD_BY_ID`.
public typealias MapGetFDByIDAttr = ObjectIDAttr
/// Attributes of `BPF_BTF_GET_FD_BY_ID`.
public typealias BTFGetFDByIDAttr = ObjectIDAttr
/// Attributes of `BPF_LINK_GET_FD_BY_ID`.
public typealias LinkGetFDByIDAttr = ObjectIDAttr

/// Attributes of `BPF_OBJ_GET_INFO_BY_FD` (the kernel's `info` member). The kernel writes
/// `info_len`: how many bytes of the info struct it filled.
public struct ObjGetInfoByFDAttr: BitwiseCopyable, Sendable {
    public var bpfFD: UInt32 = 0
    public var infoLen: UInt32 = 0
    public var info: UInt64 = 0

    public init() {}
}

/// Attributes of `BPF_BTF_LOAD`. The kernel writes `btf_log_true_size` (Linux 6.4 and later).
public struct BTFLoadAttr: BitwiseCopyable, Sendable {
    public var btf: UInt64 = 0
    public var btfLogBuf: UInt64 = 0
    public var btfSize: UInt32 = 0
    public var btfLogSize: UInt32 = 0
    public var btfLogLevel: UInt32 = 0
    public var btfLogTrueSize: UInt32 = 0
    public var btfFlags: UInt32 = 0
    public var btfTokenFD: Int32 = 0

    public init() {}
}

/// Attributes of `BPF_ENABLE_STATS`.
public struct EnableStatsAttr: BitwiseCopyable, Sendable {
    /// `BPF_STATS_RUN_TIME` (0) is the only type.
    public var type: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_TOKEN_CREATE`.
public struct TokenCreateAttr: BitwiseCopyable, Sendable {
    public var flags: UInt32 = 0
    public var bpffsFD: UInt32 = 0

    public init() {}
}

/// The kinds of object that have kernel-wide IDs.
public enum BPFObjectKind: Sendable, Hashable {
    case program, map, btf, link

    var nextIDCommand: BPFCommand {
        switch self {
        case .program: .progGetNextID
        case .map: .mapGetNextID
        case .btf: .btfGetNextID
        case .link: .linkGetNextID
        }
    }

    var descriptorByIDCommand: BPFCommand {
        switch self {
        case .program: .progGetFDByID
        case .map: .mapGetFDByID
        case .btf: .btfGetFDByID
        case .link: .linkGetFDByID
        }
    }
}

// MARK: - Commands

extension Sys {
    /// `BPF_OBJ_PIN`: pins the object to a path on a BPF file system.
    public static func objPin(_ attributes: ObjPinAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.objPin, &attributes)
    }

    /// `BPF_OBJ_GET`: opens a pinned object.
    public static func objGet(_ attributes: ObjGetAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.objGet, &attributes)
    }

    /// Pins `object` at `path`, which must be on a BPF file system (usually under /sys/fs/bpf).
    public static func pin(_ object: borrowing FileDescriptor, at path: String) throws(BPFSyscallError) {
        var attributes = ObjPinAttr()
        attributes.bpfFD = UInt32(bitPattern: object.rawValue)
        let result = path.withCString { pathname in
            attributes.pathname = address(of: pathname)
            return Result { () throws(BPFSyscallError) in try objPin(attributes) }
        }
        try result.get()
    }

    /// Opens the object pinned at `path`. `fileFlags`: 0, `BPF_F_RDONLY` (1 << 3) or
    /// `BPF_F_WRONLY` (1 << 4).
    public static func openPinned(at path: String, fileFlags: UInt32 = 0) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = ObjPinAttr()
        attributes.fileFlags = fileFlags
        let pathBytes = Array(path.utf8) + [0]
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: pathBytes.count, alignment: 1)
        defer { storage.deallocate() }
        storage.copyBytes(from: pathBytes)
        attributes.pathname = address(of: storage.baseAddress)
        return try objGet(attributes)
    }

    /// `BPF_PROG_GET_NEXT_ID`: the next program ID after `start_id`, in `next_id`.
    public static func progGetNextID(_ attributes: inout ProgGetNextIDAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.progGetNextID, &attributes)
    }

    /// `BPF_MAP_GET_NEXT_ID`: the next map ID after `start_id`, in `next_id`.
    public static func mapGetNextID(_ attributes: inout MapGetNextIDAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.mapGetNextID, &attributes)
    }

    /// `BPF_BTF_GET_NEXT_ID`: the next BTF ID after `start_id`, in `next_id`.
    public static func btfGetNextID(_ attributes: inout BTFGetNextIDAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.btfGetNextID, &attributes)
    }

    /// `BPF_LINK_GET_NEXT_ID`: the next link ID after `start_id`, in `next_id`.
    public static func linkGetNextID(_ attributes: inout LinkGetNextIDAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.linkGetNextID, &attributes)
    }

    /// `BPF_PROG_GET_FD_BY_ID`: opens the program with ID `prog_id`.
    public static func progGetFDByID(_ attributes: ProgGetFDByIDAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.progGetFDByID, &attributes)
    }

    /// `BPF_MAP_GET_FD_BY_ID`: opens the map with ID `map_id`.
    public static func mapGetFDByID(_ attributes: MapGetFDByIDAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.mapGetFDByID, &attributes)
    }

    /// `BPF_BTF_GET_FD_BY_ID`: opens the BTF object with ID `btf_id`.
    public static func btfGetFDByID(_ attributes: BTFGetFDByIDAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.btfGetFDByID, &attributes)
    }

    /// `BPF_LINK_GET_FD_BY_ID`: opens the link with ID `link_id`.
    public static func linkGetFDByID(_ attributes: LinkGetFDByIDAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.linkGetFDByID, &attributes)
    }

    /// The ID of the next loaded object of `kind` after `id` (0 for the first), nil after the last.
    public static func nextID(of kind: BPFObjectKind, after id: UInt32) throws(BPFSyscallError) -> UInt32? {
        var attributes = ObjectIDAttr()
        attributes.startID = id
        do {
            _ = try BPFSyscall.perform(kind.nextIDCommand, &attributes)
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        return attributes.nextID
    }

    /// Opens the object of `kind` with `id`.
    /// - Throws: `ENOENT` when no such object exists (any more).
    public static func openObject(_ kind: BPFObjectKind, id: UInt32) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = ObjectIDAttr()
        attributes.id = id
        return try BPFSyscall.performCreatingDescriptor(kind.descriptorByIDCommand, &attributes)
    }

    /// `BPF_OBJ_GET_INFO_BY_FD`: fills the info struct `info` points to, up to `info_len` bytes, and
    /// sets `info_len` to the bytes filled.
    public static func objGetInfoByFD(_ attributes: inout ObjGetInfoByFDAttr) throws(BPFSyscallError) {
        _ = try BPFSyscall.perform(.objGetInfoByFD, &attributes)
    }

    /// Fills `info` for `object` and returns how many bytes the kernel wrote (fewer than the struct's
    /// size on a kernel that knows fewer fields; the rest stays as it was). Pointer fields set in
    /// `info` beforehand (such as ``ProgInfo/mapIDs`` with ``ProgInfo/nrMapIDs``) are filled too.
    @discardableResult
    public static func objectInfo<Info: BPFObjectInfo>(
        of object: borrowing FileDescriptor, into info: inout Info
    ) throws(BPFSyscallError) -> Int {
        var attributes = ObjGetInfoByFDAttr()
        attributes.bpfFD = UInt32(bitPattern: object.rawValue)
        attributes.infoLen = UInt32(MemoryLayout<Info>.size)
        let result = withUnsafeMutableBytes(of: &info) { bytes in
            attributes.info = address(of: bytes.baseAddress)
            return Result { () throws(BPFSyscallError) in try objGetInfoByFD(&attributes) }
        }
        try result.get()
        return Int(attributes.infoLen)
    }

    /// The info struct for `object`, such as ``ProgInfo`` for a program.
    public static func objectInfo<Info: BPFObjectInfo>(
        of object: borrowing FileDescriptor, as type: Info.Type = Info.self
    ) throws(BPFSyscallError) -> Info {
        var info = Info()
        try objectInfo(of: object, into: &info)
        return info
    }

    /// `BPF_BTF_LOAD`: loads BTF and returns its descriptor. Like ``progLoad(_:logLevel:logSize:)``,
    /// a failed load without a log is repeated with one, and the error carries the log.
    public static func btfLoad(
        _ attributes: BTFLoadAttr, logLevel: UInt32 = 0, logSize: Int = defaultVerifierLogSize
    ) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        var level = logLevel
        if level == 0 {
            attributes.btfLogLevel = 0
            attributes.btfLogSize = 0
            attributes.btfLogBuf = 0
            if case .success(let descriptor) = BPFSyscall.call(.btfLoad, &attributes) {
                return try adopt(descriptor, command: .btfLoad)
            }
            level = 1
        }
        var size = min(max(logSize, minimumVerifierLogSize), maximumVerifierLogSize)
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            attributes.btfLogLevel = level
            attributes.btfLogSize = UInt32(truncatingIfNeeded: size)
            attributes.btfLogTrueSize = 0
            let result = buffer.withUnsafeMutableBytes { bytes in
                attributes.btfLogBuf = address(of: bytes.baseAddress)
                return BPFSyscall.call(.btfLoad, &attributes)
            }
            attributes.btfLogBuf = 0
            switch result {
            case .success(let descriptor):
                return try adopt(descriptor, command: .btfLoad)
            case .failure(.noSpace) where size < maximumVerifierLogSize:
                size = grownLogSize(from: size, kernelReported: attributes.btfLogTrueSize)
            case .failure(let errno):
                throw BPFSyscallError(
                    command: .btfLoad, errno: errno,
                    hint: .forFailure(of: .btfLoad, errno: errno, logRequested: true), log: decodeLog(buffer))
            }
        }
    }

    /// Loads a raw BTF blob (header, types, strings) into the kernel.
    public static func loadBTF(_ blob: [UInt8], logLevel: UInt32 = 0) throws(BPFSyscallError) -> FileDescriptor {
        guard let size = UInt32(exactly: blob.count) else {
            throw BPFSyscallError(command: .btfLoad, errno: .argumentListTooLong)
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(blob.count, 1), alignment: 8)
        defer { storage.deallocate() }
        storage.copyBytes(from: blob)
        var attributes = BTFLoadAttr()
        attributes.btf = address(of: storage.baseAddress)
        attributes.btfSize = size
        return try btfLoad(attributes, logLevel: logLevel)
    }

    /// `BPF_ENABLE_STATS`: turns on run-time statistics for all programs while the returned
    /// descriptor is open. Requires Linux 5.8.
    public static func enableStats(_ attributes: EnableStatsAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.enableStats, &attributes)
    }

    /// `BPF_TOKEN_CREATE`: creates a BPF token from a BPF file system mounted with delegation
    /// options (`bpffs_fd` is a descriptor of its root). Requires Linux 6.9.
    public static func tokenCreate(_ attributes: TokenCreateAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.tokenCreate, &attributes)
    }
}
