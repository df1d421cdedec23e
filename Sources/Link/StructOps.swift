import EBPFCollection
import EBPFSys
import Synchronization

/// struct_ops registration: a `BPF_MAP_TYPE_STRUCT_OPS` map whose value fills in a kernel
/// operations table (`tcp_congestion_ops`, `sched_ext_ops`...) with programs. A collection load
/// registers nothing; ``attach(map:)`` registers the table, and closing what it returns
/// unregisters it.
///
/// - A map created with ``MapFlags/link`` (`BPF_F_LINK`, from a `.struct_ops.link` section) holds
///   its value after the load and registers through a `BPF_STRUCT_OPS` link (Linux 6.4).
/// - A map without it (from a `.struct_ops` section, Linux 5.6) registers the moment its value
///   is written, and would stay registered after the process exits. So the loader only prepares
///   the value, and the attach writes it (`BPF_MAP_UPDATE_ELEM` of key 0) and returns a
///   ``StructOpsLink`` that deletes key 0 when closed, as libbpf does.
///
/// ```swift
/// let collection = try LoadedCollection(spec: spec)
/// let link = try StructOps.attach(map: collection.map("my_congestion_control"))
/// defer { try? link.close() }   // unregisters the table
/// ```
public enum StructOps {
    /// Registers the operations table in `map`: with a `BPF_STRUCT_OPS` link for a map created
    /// with ``MapFlags/link``, by writing the value a collection load prepared otherwise.
    ///
    /// - Throws: ``LinkError/attachPointBusy(hook:detail:)`` when the map is registered already
    ///   (the kernel's `EBUSY`) or the kernel has a table of that name (`EEXIST`);
    ///   ``LinkError/structOpsValueNotPrepared(map:)`` for a map without ``MapFlags/link`` that
    ///   did not come from a collection load (opened by id or from a pin);
    ///   ``LinkError/notSupported(feature:requirement:detail:)`` for a ``MapFlags/link`` map on a
    ///   kernel before 6.4.
    public static func attach(map: Map) throws(LinkError) -> StructOpsLink {
        let hook = "struct_ops map \(map.name)"
        guard map.type == .structOps else {
            throw .invalidOption("\(hook): map type \(map.type) is not struct_ops")
        }
        guard map.flags.contains(.link) else {
            return try register(map: map, hook: hook)
        }
        let created = try map.withFileDescriptorValue { (number) throws(LinkError) -> RawLink in
            var attributes = LinkCreateAttr()
            attributes.mapFD = UInt32(bitPattern: number)
            attributes.attachType = AttachType.structOps.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                if error.errno == .invalidArgument, !hasStructOpsLink {
                    throw .notSupported(
                        feature: "struct_ops links", requirement: "Linux 6.4", detail: "BPF_LINK_CREATE for \(hook) returned EINVAL")
                }
                if error.errno == .fileExists {
                    throw .attachPointBusy(hook: hook, detail: "an operations table of that name is registered already")
                }
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
        guard let created else { throw .invalidOption("\(hook) is closed") }
        return StructOpsLink(kernelLink: created, hook: hook)
    }

    /// Registers a map without ``MapFlags/link`` by writing its prepared value through a clone
    /// of the map that the returned link keeps, so that it can unregister after `map` closes.
    private static func register(map: Map, hook: String) throws(LinkError) -> StructOpsLink {
        guard !map.isClosed else { throw .invalidOption("\(hook) is closed") }
        guard map.hasPreparedStructOpsValue else { throw .structOpsValueNotPrepared(map: map.name) }
        let owned: Map
        do throws(MapError) {
            owned = try map.clone()
        } catch {
            throw mapFailure(error, operation: "duplicate \(hook)")
        }
        do throws(PreparedStructOpsWriteError) {
            try owned.writePreparedStructOpsValue()
        } catch {
            try? owned.close()
            switch error {
            case .notPrepared:
                throw .structOpsValueNotPrepared(map: map.name)
            case .programClosed(let program, let member):
                throw .programClosed(program: program, hook: "member \(member) of \(hook)")
            case .map(let mapError):
                switch mapError.syscallError?.errno {
                case .resourceBusy?:
                    throw .attachPointBusy(hook: hook, detail: "the map was registered already (a map registers once)")
                case .fileExists?:
                    throw .attachPointBusy(hook: hook, detail: "an operations table of that name is registered already")
                default:
                    throw mapFailure(mapError, operation: "register \(hook)")
                }
            }
        }
        return StructOpsLink(registeredMap: owned, hook: hook)
    }

    static func mapFailure(_ error: MapError, operation: String) -> LinkError {
        if let syscall = error.syscallError { return .syscall(operation: operation, error: syscall) }
        if case .descriptor(let errno) = error.reason { return .system(operation: operation, errno: errno) }
        return .invalidOption("\(operation): \(error)")
    }

    /// Whether `BPF_LINK_CREATE` knows `BPF_STRUCT_OPS`: with it, a link for no map fails with
    /// `EBADF`; without it the attach type is refused with `EINVAL`.
    static let hasStructOpsLink: Bool = {
        var attributes = LinkCreateAttr()
        attributes.mapFD = UInt32(bitPattern: -1)
        attributes.attachType = AttachType.structOps.rawValue
        do throws(BPFSyscallError) {
            var link = try Sys.linkCreate(attributes)
            try? link.close()
            return true
        } catch {
            return error.errno == .badFileDescriptor
        }
    }()
}

/// A registered struct_ops table, from ``StructOps/attach(map:)``. Closing it (or dropping the
/// last reference) unregisters the table.
///
/// For a map created with ``MapFlags/link`` it is a kernel link (``kernelLink``): it reports
/// ``info()`` and can be pinned. For a map without the flag the registration is the map's value
/// itself: closing deletes key 0 of the map, and there is no link object to describe or pin, so
/// ``info()`` and ``pin(at:)`` throw ``LinkError/notSupported(feature:requirement:detail:)``.
public final class StructOpsLink: Link {
    /// The `BPF_STRUCT_OPS` link, for a map created with ``MapFlags/link``; nil for a table
    /// registered by writing the map's value.
    public let kernelLink: RawLink?
    /// The map a value-registered table is deleted from on close (a clone of the attached map).
    private let registeredMap: Mutex<Map?>
    private let hook: String

    init(kernelLink: RawLink, hook: String) {
        self.kernelLink = kernelLink
        self.registeredMap = Mutex(nil)
        self.hook = hook
    }

    init(registeredMap: Map, hook: String) {
        self.kernelLink = nil
        self.registeredMap = Mutex(registeredMap)
        self.hook = hook
    }

    public var isClosed: Bool {
        if let kernelLink { return kernelLink.isClosed }
        return registeredMap.withLock { $0 == nil }
    }

    /// Unregisters the table: closes the link, or deletes key 0 of a map without
    /// ``MapFlags/link`` (`BPF_MAP_DELETE_ELEM`). Calling it again does nothing.
    public func close() throws(LinkError) {
        if let kernelLink {
            try kernelLink.close()
            return
        }
        guard let map = registeredMap.withLock({ $0.take() }) else { return }
        defer { try? map.close() }
        do throws(MapError) {
            // False (ENOENT) means nothing is registered through this map any more.
            _ = try map.delete(keyBytes: [0, 0, 0, 0])
        } catch {
            throw StructOps.mapFailure(error, operation: "unregister \(hook)")
        }
    }

    /// What the kernel reports about the link (`BPF_OBJ_GET_INFO_BY_FD`).
    /// - Throws: ``LinkError/notSupported(feature:requirement:detail:)`` for a table registered
    ///   by writing the value of a map without ``MapFlags/link``.
    public func info() throws(LinkError) -> LinkInfo {
        guard let kernelLink else { throw noLinkObject("link info") }
        return try kernelLink.info()
    }

    /// Pins the link at `path` on a BPF file system: the table stays registered after this
    /// process closes the link, until the pin is removed.
    /// - Throws: ``LinkError/notSupported(feature:requirement:detail:)`` for a table registered
    ///   by writing the value of a map without ``MapFlags/link``.
    public func pin(at path: String) throws(LinkError) {
        guard let kernelLink else { throw noLinkObject("pinning a link") }
        try kernelLink.pin(at: path)
    }

    private func noLinkObject(_ feature: String) -> LinkError {
        if isClosed { return .closed }
        return .notSupported(
            feature: feature, requirement: "a struct_ops map created with BPF_F_LINK (a .struct_ops.link section; Linux 6.4)",
            detail: "\(hook) was registered by writing its value and has no link object")
    }

    deinit { _ = try? close() }
}
