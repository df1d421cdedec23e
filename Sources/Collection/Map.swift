import EBPFSys
import Glibc
import Synchronization

/// A map in the kernel, owning one file descriptor.
///
/// The descriptor is closed when the last reference to the map goes away or when ``close()`` is
/// called, whichever comes first; closing twice does nothing. Whoever needs the map beyond this
/// object's life takes a ``clone()``. Operations from several threads run concurrently.
///
/// ```swift
/// let counts = try Map(spec: MapSpec(name: "counts", type: .hash, keySize: 4, valueSize: 8, maxEntries: 64))
/// try counts.update(UInt32(1), UInt64(42))
/// let value = try counts.lookup(UInt32(1), as: UInt64.self)   // 42
/// ```
public final class Map: Sendable {
    /// The map's full name (the kernel keeps at most its first 15 bytes).
    public let name: String
    public let type: MapType
    public let keySize: UInt32
    /// The size of one value; per-CPU maps hold one such value per possible CPU.
    public let valueSize: UInt32
    public let maxEntries: UInt32
    public let flags: MapFlags
    /// For per-CPU maps the number of possible CPUs, otherwise 1.
    public let valueCopies: Int

    let descriptor: SharedDescriptor
    let pinState: PinState
    /// For a struct_ops map without ``MapFlags/link`` made by a collection load: the value its
    /// registration writes (``writePreparedStructOpsValue()``). Dropped on ``close()``.
    let preparedStructOps = Mutex<PreparedStructOpsValue?>(nil)
    /// For an arena: its mapping into this process, made by the first ``arenaMemory()`` and kept
    /// for this object's life (the kernel fixes an arena's user address at its first mapping).
    let arenaMapping = Mutex<MapMemory?>(nil)

    /// The bytes one lookup copies out: ``valueSize`` for ordinary maps; for per-CPU maps one
    /// slot per possible CPU, each ``valueSize`` rounded up to 8 bytes as the kernel lays them out.
    public let valueBufferSize: Int

    /// The size a typed value must have to be used as is: ``valueSize``, or -1 for per-CPU maps,
    /// which take no single value. One comparison on the typed API's common path.
    @usableFromInline let typedValueSize: Int

    // MARK: - Creating

    /// Creates the map `spec` describes, writes its ``MapSpec/contents`` and freezes it when
    /// ``MapSpec/freeze`` is set. An arena's contents (its `__arena` globals) are copied to the
    /// start of its mapping (``arenaMemory()``), which this map then keeps.
    ///
    /// Maps of maps create a throwaway inner map from ``MapSpec/innerMap`` as the template the
    /// kernel asks for. Contents that refer to programs or maps by name, and pinning by name, are
    /// the collection loader's work: such a spec is refused here. Nothing is left open on failure.
    public convenience init(spec: MapSpec) throws(MapError) {
        func failure(_ reason: MapError.Reason) -> MapError {
            MapError(mapName: spec.name, operation: .create, reason: reason)
        }
        for (index, entry) in spec.contents.enumerated() {
            switch entry.value {
            case .bytes: continue
            case .program(let name), .map(let name):
                throw failure(.unresolvedContentsReference(name: name, entryIndex: index))
            }
        }
        let descriptor = try Map.createDescriptor(spec)
        try self.init(
            owning: descriptor, name: spec.name, type: spec.type, keySize: spec.keySize,
            valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags, operation: .create)
        do throws(MapError) {
            for entry in spec.contents {
                guard case .bytes(let value) = entry.value else { continue }
                if spec.type == .arena {
                    try writeArenaGlobals(value)
                } else {
                    try update(keyBytes: entry.key, valueBytes: value)
                }
            }
            if spec.freeze {
                try freeze()
            }
        } catch {
            try? close()
            throw MapError(mapName: spec.name, operation: .create, reason: error.reason)
        }
    }

    private static func createDescriptor(_ spec: MapSpec) throws(MapError) -> FileDescriptor {
        func failure(_ reason: MapError.Reason) -> MapError {
            MapError(mapName: spec.name, operation: .create, reason: reason)
        }
        var attributes = try spec.creationAttributes()
        guard spec.type == .arrayOfMaps || spec.type == .hashOfMaps else {
            do throws(BPFSyscallError) {
                return try Sys.mapCreate(attributes)
            } catch {
                throw failure(.syscall(error))
            }
        }
        guard let innerSpec = spec.innerMap else {
            throw failure(.missingInnerMap(spec.type))
        }
        // The kernel only copies the template's properties; the template itself is closed again.
        var template = innerSpec
        template.contents = []
        template.freeze = false
        template.pinning = .none
        let inner = try Map(spec: template)
        defer { try? inner.close() }
        return try inner.descriptor.borrow(orThrow: { failure(.closed) }) { (raw: Int32) throws(MapError) in
            attributes.innerMapFD = UInt32(bitPattern: raw)
            do throws(BPFSyscallError) {
                return try Sys.mapCreate(attributes)
            } catch {
                throw failure(.syscall(error))
            }
        }
    }

    /// Wraps `descriptor`, whose properties are known.
    init(
        owning descriptor: consuming FileDescriptor, name: String, type: MapType, keySize: UInt32,
        valueSize: UInt32, maxEntries: UInt32, flags: MapFlags, operation: MapError.Operation,
        pinnedPath: String? = nil
    ) throws(MapError) {
        let copies: Int
        if type.isPerCPU {
            do {
                copies = try PossibleCPUs.count()
            } catch {
                throw MapError(mapName: name, operation: operation, reason: .possibleCPUs(error))
            }
        } else {
            copies = 1
        }
        let slot = type.isPerCPU ? (Int(valueSize) + 7) & ~7 : Int(valueSize)
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.valueCopies = copies
        self.valueBufferSize = slot.multipliedReportingOverflow(by: copies).partialValue
        self.typedValueSize = type.isPerCPU ? -1 : Int(valueSize)
        self.descriptor = SharedDescriptor(descriptor)
        self.pinState = PinState(pinnedPath)
    }

    /// Takes ownership of a map descriptor obtained elsewhere and reads its properties from the
    /// kernel. The descriptor is closed if this throws.
    public convenience init(adopting descriptor: consuming FileDescriptor) throws(MapError) {
        try self.init(adopting: descriptor, operation: .open, pinnedPath: nil)
    }

    private convenience init(
        adopting descriptor: consuming FileDescriptor, operation: MapError.Operation, pinnedPath: String?
    ) throws(MapError) {
        let info: MapInfo
        do throws(BPFSyscallError) {
            info = try Sys.objectInfo(of: descriptor, as: MapInfo.self)
        } catch {
            throw MapError(mapName: pinnedPath ?? "fd \(descriptor.rawValue)", operation: operation, reason: .syscall(error))
        }
        try self.init(
            owning: descriptor, name: info.name.string, type: MapType(rawValue: info.type), keySize: info.keySize,
            valueSize: info.valueSize, maxEntries: info.maxEntries, flags: MapFlags(rawValue: info.mapFlags),
            operation: operation, pinnedPath: pinnedPath)
    }

    /// Opens the map pinned at `path` (on a BPF file system).
    ///
    /// - Parameter fileFlags: `[]`, or ``MapFlags/readOnly`` / ``MapFlags/writeOnly`` to open it
    ///   for one direction only (`BPF_F_RDONLY`, `BPF_F_WRONLY`).
    public convenience init(pinnedAt path: String, fileFlags: MapFlags = []) throws(MapError) {
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            descriptor = try Sys.openPinned(at: path, fileFlags: fileFlags.rawValue)
        } catch {
            throw MapError(mapName: path, operation: .open, reason: .syscall(error))
        }
        try self.init(adopting: descriptor, operation: .open, pinnedPath: path)
    }

    /// Opens the loaded map with kernel-wide ID `id` (`BPF_MAP_GET_FD_BY_ID`; needs CAP_SYS_ADMIN).
    public convenience init(id: UInt32) throws(MapError) {
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            descriptor = try Sys.openObject(.map, id: id)
        } catch {
            throw MapError(mapName: "id \(id)", operation: .open, reason: .syscall(error))
        }
        try self.init(adopting: descriptor, operation: .open, pinnedPath: nil)
    }

    /// The IDs of every map loaded in the kernel, in ascending order (`BPF_MAP_GET_NEXT_ID`).
    public static func allIDs() throws(BPFSyscallError) -> [UInt32] {
        var ids: [UInt32] = []
        var current: UInt32 = 0
        while let next = try Sys.nextID(of: .map, after: current) {
            ids.append(next)
            current = next
        }
        return ids
    }

    // MARK: - Lifetime

    /// Closes the descriptor (after operations still running on other threads). Later operations
    /// throw ``MapError/Reason/closed``. Calling it again does nothing. Does not unpin.
    public func close() throws(MapError) {
        // The programs of a prepared struct_ops value close with the last map that shares it.
        preparedStructOps.withLock { $0 = nil }
        do {
            try descriptor.close()
        } catch {
            throw MapError(mapName: name, operation: .close, reason: .descriptor(error))
        }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool {
        descriptor.isClosed
    }

    /// A second `Map` for the same kernel map, with a descriptor of its own. A struct_ops
    /// value the loader prepared for registration goes along.
    public func clone() throws(MapError) -> Map {
        let copy = try descriptor.duplicate(
            orThrow: { error(.clone, .closed) }, wrapping: { error(.clone, .descriptor($0)) })
        let cloned = try Map(
            owning: copy, name: name, type: type, keySize: keySize, valueSize: valueSize,
            maxEntries: maxEntries, flags: flags, operation: .clone)
        if let prepared = preparedStructOps.withLock({ $0 }) {
            cloned.prepareStructOpsValue(prepared)
        }
        // An arena can be mapped only once per address space user (a second mmap elsewhere gets
        // EBUSY or EINVAL): the clone shares the mapping.
        if let mapping = arenaMapping.withLock({ $0 }) {
            cloned.arenaMapping.withLock { $0 = mapping }
        }
        return cloned
    }

    /// A new descriptor for this map that the caller owns, for APIs that take one.
    public func duplicateFileDescriptor() throws(MapError) -> FileDescriptor {
        try descriptor.duplicate(orThrow: { error(.clone, .closed) }, wrapping: { error(.clone, .descriptor($0)) })
    }

    /// Runs `body` with the map's raw descriptor, which stays open until `body` returns; nil
    /// when the map is closed. Do not close the number or keep it.
    public func withFileDescriptorValue<Result, Failure: Error>(
        _ body: (Int32) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        try descriptor.borrowIfOpen(body)
    }

    func error(_ operation: MapError.Operation, _ reason: MapError.Reason) -> MapError {
        MapError(mapName: name, operation: operation, reason: reason)
    }

    /// Runs `body` with the raw descriptor as the kernel's attribute structs hold it.
    @inline(__always)
    func withRawDescriptor<Result>(
        _ operation: MapError.Operation, _ body: (UInt32) throws(MapError) -> Result
    ) throws(MapError) -> Result {
        try descriptor.borrow(orThrow: { error(operation, .closed) }) { (raw: Int32) throws(MapError) in
            try body(UInt32(bitPattern: raw))
        }
    }

    // MARK: - Pinning, freezing, info

    /// Pins the map at `path`, which must be on a BPF file system (usually under /sys/fs/bpf).
    public func pin(at path: String) throws(MapError) {
        try pinState.pin(descriptor, at: path, ifClosed: { error(.pin, .closed) }, wrapping: { error(.pin, .syscall($0)) })
    }

    /// Removes the pin this object made or was opened from. Does nothing when not pinned.
    public func unpin() throws(MapError) {
        if let failure = pinState.remove() {
            throw error(.unpin, .unlinkFailed(path: failure.path, errno: failure.errno))
        }
    }

    /// The path the map was pinned at or opened from, nil when not pinned.
    public var pinnedPath: String? {
        pinState.current
    }

    /// Makes the map read-only for user space from now on (`BPF_MAP_FREEZE`; Linux 5.2).
    /// Programs can still write to it unless it was created with ``MapFlags/readOnlyProgram``.
    public func freeze() throws(MapError) {
        try withRawDescriptor(.freeze) { (raw: UInt32) throws(MapError) in
            var attributes = MapFreezeAttr()
            attributes.mapFD = raw
            do throws(BPFSyscallError) {
                try Sys.mapFreeze(attributes)
            } catch {
                throw self.error(.freeze, .syscall(error))
            }
        }
    }

    /// What the kernel reports about the map (`BPF_OBJ_GET_INFO_BY_FD`).
    public func info() throws(MapError) -> Info {
        try withRawDescriptor(.info) { (raw: UInt32) throws(MapError) in
            var info = MapInfo()
            var attributes = ObjGetInfoByFDAttr()
            attributes.bpfFD = raw
            attributes.infoLen = UInt32(MemoryLayout<MapInfo>.size)
            let result = withUnsafeMutableBytes(of: &info) { bytes in
                attributes.info = Sys.address(of: bytes.baseAddress)
                return Swift.Result { () throws(BPFSyscallError) in try Sys.objGetInfoByFD(&attributes) }
            }
            do throws(BPFSyscallError) {
                try result.get()
            } catch {
                throw self.error(.info, .syscall(error))
            }
            return Info(info)
        }
    }

    /// A map as the kernel describes it.
    public struct Info: Sendable, Hashable {
        public var type: MapType
        /// The kernel-wide ID.
        public var id: UInt32
        /// The name as the kernel keeps it (at most 15 bytes).
        public var name: String
        public var keySize: UInt32
        public var valueSize: UInt32
        public var maxEntries: UInt32
        public var flags: MapFlags
        public var mapExtra: UInt64
        /// The ID of the map's BTF, 0 without.
        public var btfID: UInt32
        /// The BTF type IDs of key and value in the map's BTF; 0 when the map was created without.
        public var btfKeyTypeID: UInt32
        public var btfValueTypeID: UInt32
        /// For struct_ops maps: the value's type ID in vmlinux BTF; 0 otherwise.
        public var btfVmlinuxValueTypeID: UInt32
        /// The interface of a device-bound (offloaded) map; 0 otherwise.
        public var ifindex: UInt32

        init(_ info: MapInfo) {
            type = MapType(rawValue: info.type)
            id = info.id
            name = info.name.string
            keySize = info.keySize
            valueSize = info.valueSize
            maxEntries = info.maxEntries
            flags = MapFlags(rawValue: info.mapFlags)
            mapExtra = info.mapExtra
            btfID = info.btfID
            btfKeyTypeID = info.btfKeyTypeID
            btfValueTypeID = info.btfValueTypeID
            btfVmlinuxValueTypeID = info.btfVmlinuxValueTypeID
            ifindex = info.ifindex
        }
    }
}

extension MapType {
    /// Whether the map holds one value per possible CPU.
    public var isPerCPU: Bool {
        self == .percpuHash || self == .percpuArray || self == .lruPercpuHash || self == .percpuCgroupStorage
    }
}

extension MapSpec {
    /// `BPF_MAP_CREATE`'s attributes for this spec without BTF, an inner map or a token: type,
    /// sizes, flags, extra, NUMA node and name.
    func creationAttributes() throws(MapError) -> MapCreateAttr {
        var attributes = MapCreateAttr()
        attributes.mapType = type.rawValue
        attributes.keySize = keySize
        attributes.valueSize = valueSize
        attributes.maxEntries = maxEntries
        attributes.mapFlags = flags.rawValue
        attributes.mapExtra = mapExtra
        if flags.contains(.numaNode) {
            attributes.numaNode = numaNode
        }
        do {
            attributes.mapName = try KernelObjectName.make(name)
        } catch {
            throw MapError(mapName: name, operation: .create, reason: .invalidName(error))
        }
        return attributes
    }
}
