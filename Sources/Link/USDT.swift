import EBPFCollection
import EBPFELFFile
import EBPFSys
import Glibc
import Synchronization

/// How a program built with `usdt.bpf.h` finds the spec of the probe that fired.
public enum USDTSpecLookup: Sendable, Hashable {
    /// BPF cookies where the kernel has them (Linux 5.15), instruction pointers elsewhere: what
    /// the loader's `LINUX_HAS_BPF_COOKIE` says to the program.
    case automatic
    /// The link's BPF cookie is the spec id (`LINUX_HAS_BPF_COOKIE` true).
    case cookie
    /// `__bpf_usdt_ip_to_spec_id` maps each probe's address in the process to its spec id
    /// (`LINUX_HAS_BPF_COOKIE` false). Shared libraries and PIE executables need a pid.
    case instructionPointer
}

/// Options for ``USDT``.
public struct USDTOptions: Sendable {
    /// Only this process triggers the probe (nil: every process that maps the binary).
    public var pid: Int32?
    /// What the program reads with `bpf_usdt_cookie()`.
    public var cookie: UInt64 = 0
    /// How the program finds its spec; it must match the program's `LINUX_HAS_BPF_COOKIE`.
    public var specLookup: USDTSpecLookup = .automatic

    public init(pid: Int32? = nil, cookie: UInt64 = 0, specLookup: USDTSpecLookup = .automatic) {
        self.pid = pid
        self.cookie = cookie
        self.specLookup = specLookup
    }
}

/// A program attached to a USDT probe (`<sys/sdt.h>`'s `DTRACE_PROBE`/`STAP_PROBE`) of an
/// executable or shared library, with the spec maps of libbpf's `<bpf/usdt.bpf.h>` (1.1) filled,
/// so `BPF_USDT(...)`, `bpf_usdt_arg()` and `bpf_usdt_cookie()` work unchanged.
///
/// Places one uprobe per location of the probe with the semaphore's `ref_ctr_offset` (Linux
/// 4.20), or one uprobe.multi link for all of them when the program was loaded with the attach
/// type ``AttachType/traceUprobeMulti`` (Linux 6.6). Closing detaches every uprobe and frees the
/// specs.
///
/// ```swift
/// let collection = try LoadedCollection(spec: spec)
/// let link = try USDT(
///     path: "/usr/bin/python3.11", provider: "python", name: "audit",
///     program: collection.program("handle_audit"), maps: USDTSpecMaps(collection: collection),
///     options: USDTOptions(pid: child))
/// ```
public final class USDT: Link {
    /// The probed binary (symbolic links resolved).
    public let path: String
    public let provider: String
    public let name: String
    /// The probe's locations in the binary (a probe may be inlined in several places).
    public let locations: [USDTProbe]
    /// The spec id of each location.
    public let specIDs: [UInt32]
    /// Whether the spec is found by instruction pointer rather than by BPF cookie.
    public let usesInstructionPointers: Bool

    private struct State: ~Copyable {
        var links: [any Link]
        var instructionPointers: [UInt64]
        var closed = false
    }
    private let state: Mutex<State>
    private let maps: USDTSpecMaps
    private let specsMapID: UInt32
    private let distinctSpecIDs: [UInt32]

    /// Whether one uprobe.multi link carries every location.
    public var usesUprobeMulti: Bool { state.withLock { $0.links.first is RawLink } }

    /// Attaches `program` (type ``ProgramType/kprobe``) to probe `provider:name` of the binary at
    /// `path`.
    /// - Throws: ``LinkError/usdt(_:)`` for a missing probe, a malformed note or an argument the
    ///   spec cannot express (each naming binary, provider and probe); other ``LinkError``s for a
    ///   failed attach, after detaching every location attached before it.
    public init(
        path: String, provider: String, name: String, program: Program, maps: USDTSpecMaps,
        options: USDTOptions = USDTOptions()
    ) throws(LinkError) {
        let executable = try Executable(path: path)
        let file: ELFFile
        do { file = try ELFFile(path: executable.path) } catch {
            throw .usdt(.unreadableBinary(path: executable.path, error: error))
        }
        let probe = USDTError.ProbeName(path: executable.path, provider: provider, name: name)
        let all: [USDTProbe]
        do { all = try USDTProbe.probes(in: file, path: executable.path) } catch { throw .usdt(error) }
        let locations = all.filter { $0.provider == provider && $0.name == name }
        guard !locations.isEmpty else {
            var seen = Set<String>()
            let available = all.map { "\($0.provider):\($0.name)" }.filter { seen.insert($0).inserted }
            throw .usdt(.probeNotFound(probe, available: available))
        }
        var argumentsByLocation: [[USDTArgument]] = []
        for location in locations {
            guard let arguments = location.arguments else {
                throw .usdt(
                    .unsupportedArgument(
                        probe, location.argumentError ?? USDTArgumentFormatError(argument: location.argumentText, reason: "unparsed")))
            }
            argumentsByLocation.append(arguments)
        }
        if let pid = options.pid, pid <= 0 { throw .invalidOption("pid \(pid) is not a process id") }

        let useCookies: Bool
        switch options.specLookup {
        case .cookie: useCookies = true
        case .instructionPointer: useCookies = false
        case .automatic: useCookies = (try? BPFFeatures.isSupported(.bpfCookie)) ?? false
        }
        var instructionPointers: [UInt64] = []
        if !useCookies {
            guard maps.instructionPointers != nil else {
                throw .usdt(.badSpecMap(
                    name: USDTSpecMaps.instructionPointersMapName,
                    reason: "spec lookup by instruction pointer needs this map, and the program's object has none"))
            }
            instructionPointers = try USDT.runtimeAddresses(
                of: locations, file: file, path: executable.path, pid: options.pid, probe: probe)
        }

        // One spec per distinct argument string, as locations of one probe usually share it.
        var specIndex: [String: Int] = [:]
        var specOfLocation: [Int] = []
        for location in locations {
            if let known = specIndex[location.argumentText] {
                specOfLocation.append(known)
            } else {
                specIndex[location.argumentText] = specIndex.count
                specOfLocation.append(specIndex.count - 1)
            }
        }
        let mapID: UInt32
        do { mapID = try maps.specs.info().id } catch {
            throw .usdt(.badSpecMap(name: maps.specs.name, reason: "cannot read its info: \(error)"))
        }
        guard let ids = USDTSpecIDs.allocate(specIndex.count, map: mapID, capacity: maps.specs.maxEntries) else {
            throw .usdt(.specMapFull(probe, capacity: maps.specs.maxEntries))
        }
        var links: [any Link] = []
        var writtenPointers: [UInt64] = []
        func rollBack() {
            for link in links { try? link.close() }
            if let map = maps.instructionPointers {
                for address in writtenPointers { _ = try? map.delete(keyBytes: USDT.bytes(of: address)) }
            }
            USDTSpecIDs.release(ids, map: mapID)
        }
        do throws(LinkError) {
            for (index, location) in locations.enumerated() where specOfLocation.firstIndex(of: specOfLocation[index]) == index {
                let spec = USDTSpecMaps.encode(arguments: argumentsByLocation[index], cookie: options.cookie)
                do {
                    try maps.specs.update(keyBytes: USDT.bytes(of: ids[specOfLocation[index]]), valueBytes: spec)
                } catch {
                    throw LinkError.usdt(
                        .badSpecMap(
                            name: maps.specs.name,
                            reason: "writing spec id \(ids[specOfLocation[index]]) for \(probe) at 0x\(String(location.address, radix: 16)): \(error)"))
                }
            }
            if let map = maps.instructionPointers, !useCookies {
                for (index, address) in instructionPointers.enumerated() {
                    do {
                        try map.update(
                            keyBytes: USDT.bytes(of: address), valueBytes: USDT.bytes(of: ids[specOfLocation[index]]),
                            flags: .noExist)
                        writtenPointers.append(address)
                    } catch {
                        // BPF_NOEXIST answers EEXIST for an address another attachment holds;
                        // anything else is the map failing and says so.
                        if (error as? MapError)?.syscallError?.errno == .fileExists {
                            throw LinkError.usdt(.instructionPointerInUse(probe, address: address))
                        }
                        throw LinkError.usdt(
                            .badSpecMap(
                                name: map.name,
                                reason: "writing instruction pointer 0x\(String(address, radix: 16)) for \(probe): \(error)"))
                    }
                }
            }
            let cookies = specOfLocation.map { useCookies ? UInt64(ids[$0]) : 0 }
            let semaphores = locations.map { $0.semaphoreFileOffset ?? 0 }
            if program.attachType == .traceUprobeMulti {
                links.append(
                    try UprobeMulti.attach(
                        executable: executable, offsets: locations.map(\.fileOffset), program: program, pid: options.pid,
                        cookies: cookies, referenceCounterOffsets: semaphores.allSatisfy { $0 == 0 } ? [] : semaphores))
            } else {
                for (index, location) in locations.enumerated() {
                    var probeOptions = ProbeOptions()
                    probeOptions.pid = options.pid
                    probeOptions.cookie = cookies[index]
                    probeOptions.referenceCounterOffset = semaphores[index]
                    links.append(
                        try Uprobe(
                            executable: executable, fileOffset: location.fileOffset, label: "\(provider):\(name)",
                            program: program, options: probeOptions))
                }
            }
        } catch {
            rollBack()
            throw error
        }
        self.path = executable.path
        self.provider = provider
        self.name = name
        self.locations = locations
        self.specIDs = specOfLocation.map { ids[$0] }
        self.usesInstructionPointers = !useCookies
        self.maps = maps
        self.specsMapID = mapID
        self.distinctSpecIDs = ids
        state = Mutex(State(links: links, instructionPointers: writtenPointers))
    }

    /// Attaches through the spec maps of `collection`.
    public convenience init(
        path: String, provider: String, name: String, program: Program, collection: LoadedCollection,
        options: USDTOptions = USDTOptions()
    ) throws(LinkError) {
        let maps: USDTSpecMaps
        do { maps = try USDTSpecMaps(collection: collection) } catch { throw .usdt(error) }
        try self.init(path: path, provider: provider, name: name, program: program, maps: maps, options: options)
    }

    /// Splits the target of a `usdt/PATH:PROVIDER:NAME` section (what follows `usdt/`) into its
    /// parts; the path may itself contain colons, the provider and name may not. Nil when a part
    /// is missing.
    public static func sectionTarget(_ target: String) -> (path: String, provider: String, name: String)? {
        let parts = target.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let name = String(parts[parts.count - 1])
        let provider = String(parts[parts.count - 2])
        let path = parts.dropLast(2).joined(separator: ":")
        guard !path.isEmpty, !provider.isEmpty, !name.isEmpty else { return nil }
        return (path, provider, name)
    }

    deinit { try? close() }

    /// Detaches every location, removes this link's instruction pointers from the map and frees
    /// its spec ids.
    public func close() throws(LinkError) {
        let (links, pointers) = state.withLock { state -> ([any Link], [UInt64]) in
            guard !state.closed else { return ([], []) }
            state.closed = true
            defer { state.links = []; state.instructionPointers = [] }
            return (state.links, state.instructionPointers)
        }
        guard !links.isEmpty || !pointers.isEmpty else { return }
        var failure: LinkError?
        for link in links {
            do { try link.close() } catch { failure = failure ?? error }
        }
        if let map = maps.instructionPointers {
            for address in pointers { _ = try? map.delete(keyBytes: USDT.bytes(of: address)) }
        }
        USDTSpecIDs.release(distinctSpecIDs, map: specsMapID)
        if let failure { throw failure }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// The kernel's view of the uprobe.multi link, or of the first location's uprobe.
    public func info() throws(LinkError) -> LinkInfo {
        guard let first = state.withLock({ $0.links.first }) else { throw .closed }
        return try first.info()
    }

    static func bytes<Value: FixedWidthInteger>(of value: Value) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}
