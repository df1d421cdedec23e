import Glibc

// Conveniences over the commands that work on any BPF object: pinning, IDs, info and BTF. The
// attribute structs and the uniform command functions are generated (Generated/ObjectAttributes.swift,
// Generated/Sys+Commands.swift).

extension ObjectIDAttr {
    /// The union member `prog_id`, `map_id`, `btf_id` or `link_id`: the ID whose descriptor the
    /// `GET_FD_BY_ID` commands open. Shares storage with ``startID``.
    public var id: UInt32 {
        get { startID }
        set { startID = newValue }
    }
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
    /// Pins `object` at `path`, which must be on a BPF file system (usually under /sys/fs/bpf).
    public static func pin(_ object: borrowing FileDescriptor, at path: String) throws(BPFSyscallError) {
        try pin(descriptorValue: object.rawValue, at: path)
    }

    /// Pins the object whose descriptor number is `descriptorValue` at `path` (`BPF_OBJ_PIN`).
    /// The number is borrowed: the caller keeps it open for the length of the call and still
    /// owns it afterwards.
    public static func pin(descriptorValue: Int32, at path: String) throws(BPFSyscallError) {
        var attributes = ObjPinAttr()
        attributes.bpfFD = UInt32(bitPattern: descriptorValue)
        let result = path.withCString { pathname in
            attributes.pathname = address(of: pathname)
            return Result { () throws(BPFSyscallError) in try objPin(attributes) }
        }
        try result.get()
    }

    /// Removes the pin at `path`. A pin that is already gone is not an error: unpinning is what
    /// cleanup paths do, and another process may have removed it first.
    public static func unpin(at path: String) throws(Errno) {
        guard unlink(path) != 0 else { return }
        let error = Errno(rawValue: Glibc.errno)
        guard error != .noSuchFileOrDirectory else { return }
        throw error
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

    /// The info of a BTF object with its name, which the kernel writes only into a buffer the
    /// caller supplies (`BPF_OBJ_GET_INFO_BY_FD`; names are at most 56 bytes, 255 to be safe).
    public static func btfInfoAndName(of object: borrowing FileDescriptor) throws(BPFSyscallError) -> (info: BTFInfo, name: String) {
        // A buffer of its own rather than a closure over an array: a closure cannot capture the
        // borrowed noncopyable descriptor.
        let nameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        defer { nameBuffer.deallocate() }
        nameBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        var info = BTFInfo()
        info.name = address(of: nameBuffer.baseAddress)
        info.nameLen = UInt32(nameBuffer.count)
        try objectInfo(of: object, into: &info)
        info.name = 0
        return (info, String(decoding: nameBuffer.prefix { $0 != 0 }, as: UTF8.self))
    }

    /// `BPF_BTF_LOAD`: loads BTF and returns its descriptor. Like ``progLoad(_:logLevel:logSize:)``,
    /// a failed load without a log is repeated with one, and the error carries the log.
    public static func btfLoad(
        _ attributes: BTFLoadAttr, logLevel: UInt32 = 0, logSize: Int = defaultVerifierLogSize
    ) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        var level = logLevel
        var errorWithoutLog: Errno?
        if level == 0 {
            attributes.btfLogLevel = 0
            attributes.btfLogSize = 0
            attributes.btfLogBuf = 0
            switch BPFSyscall.call(.btfLoad, &attributes) {
            case .success(let descriptor):
                return try adopt(descriptor, command: .btfLoad)
            case .failure(let errno):
                errorWithoutLog = errno
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
            case .failure(let errno):
                let log = decodeLog(buffer)
                let outcome = logRetryOutcome(
                    errno: errno, size: size, log: log, kernelReported: attributes.btfLogTrueSize,
                    errorWithoutLog: errorWithoutLog)
                switch outcome {
                case .retry(let grown):
                    size = grown
                case .fail(let reported, let logTooSmall):
                    throw BPFSyscallError(
                        command: .btfLoad, errno: reported,
                        hint: .forFailure(of: .btfLoad, errno: reported, logRequested: logTooSmall), log: log)
                }
            }
        }
    }

    /// `BPF_F_TOKEN_FD` in `btf_flags`: `btf_token_fd` holds a BPF token.
    public static let btfTokenFlag: UInt32 = 1 << 16

    /// Loads a raw BTF blob (header, types, strings) into the kernel, with the BPF `token` (a
    /// descriptor from `BPF_TOKEN_CREATE`) when one is given.
    public static func loadBTF(_ blob: [UInt8], logLevel: UInt32 = 0, token: Int32? = nil) throws(BPFSyscallError) -> FileDescriptor {
        guard let size = UInt32(exactly: blob.count) else {
            throw BPFSyscallError(command: .btfLoad, errno: .argumentListTooLong)
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(blob.count, 1), alignment: 8)
        defer { storage.deallocate() }
        storage.copyBytes(from: blob)
        var attributes = BTFLoadAttr()
        attributes.btf = address(of: storage.baseAddress)
        attributes.btfSize = size
        if let token {
            attributes.btfTokenFD = token
            attributes.btfFlags |= btfTokenFlag
        }
        return try btfLoad(attributes, logLevel: logLevel)
    }

}
