import EBPFASM
import EBPFBTF
import EBPFSys
import Glibc

extension CollectionLoader {
    // MARK: - Creating maps

    /// Creates map `name`, or takes its replacement, or reuses the compatible map pinned under
    /// the pin path; writes the byte contents of maps it creates and freezes those that ask for
    /// it (unless they also hold programs or maps, which come later).
    func createMap(_ name: String) throws(CollectionError) {
        guard var mapSpec = spec.maps[name] else {
            throw CollectionError(.select, .notInSpec(kind: .map, name: name))
        }
        if mapSpec.type == .perfEventArray && mapSpec.maxEntries == 0 {
            do {
                mapSpec.maxEntries = UInt32(truncatingIfNeeded: try PossibleCPUs.count())
            } catch {
                throw CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: .possibleCPUs(error))))
            }
        }
        if let replacement = options.mapReplacements[name] {
            try checkCompatible(replacement, with: mapSpec)
            objects.maps[name] = replacement
            objects.replacedMapNames.insert(name)
            return
        }
        switch mapSpec.pinning {
        case .none:
            objects.maps[name] = try createAndFill(mapSpec)
        case .byName:
            guard let pinPath = options.pinPath else {
                throw CollectionError(.map(name), .pinPathRequired(map: name))
            }
            let path = pinPath.hasSuffix("/") ? pinPath + name : pinPath + "/" + name
            let existing: Map?
            do throws(MapError) {
                existing = try Map(pinnedAt: path)
            } catch where error.syscallError?.errno == .noSuchFileOrDirectory {
                existing = nil
            } catch {
                throw CollectionError(.map(name), .map(error))
            }
            if let existing {
                objects.maps[name] = existing
                try checkCompatible(existing, with: mapSpec)
                return
            }
            let map = try createAndFill(mapSpec)
            objects.maps[name] = map
            do throws(MapError) {
                try map.pin(at: path)
            } catch {
                throw CollectionError(.map(name), .map(error))
            }
            objects.createdPins.append(path)
        default:
            throw CollectionError(.map(name), .unsupportedPinning(map: name, pinning: mapSpec.pinning))
        }
    }

    /// Whether an existing map can stand in for `mapSpec` (cilium's `checkCompatible`).
    func checkCompatible(_ map: Map, with mapSpec: MapSpec) throws(CollectionError) {
        func differ(_ field: String, _ expected: some CustomStringConvertible, _ found: some CustomStringConvertible) -> CollectionError {
            CollectionError(
                .map(mapSpec.name),
                .incompatibleMap(name: mapSpec.name, field: field, expected: expected.description, found: found.description))
        }
        guard map.type == mapSpec.type else { throw differ("type", mapSpec.type.rawValue, map.type.rawValue) }
        guard map.keySize == mapSpec.keySize else { throw differ("key size", mapSpec.keySize, map.keySize) }
        guard map.valueSize == mapSpec.valueSize else { throw differ("value size", mapSpec.valueSize, map.valueSize) }
        guard map.maxEntries == mapSpec.maxEntries else { throw differ("max entries", mapSpec.maxEntries, map.maxEntries) }
        // The kernel adds BPF_F_RDONLY_PROG-like bits on its own for some types; compare what
        // the spec asks for, ignoring the token bit, which is about how the map was created.
        let relevant = mapSpec.flags.subtracting(.tokenFileDescriptor)
        guard map.flags.subtracting(.tokenFileDescriptor) == relevant else {
            throw differ("flags", relevant.rawValue, map.flags.rawValue)
        }
    }

    /// Creates the map with the object's BTF for its key and value (when loaded), writes its
    /// byte contents and freezes it when it asks for it and holds no references. An arena is
    /// mapped into this process, and its contents (the object's `__arena` globals) are copied to
    /// the start of the mapping (``Map/writeArenaGlobals(_:)``).
    private func createAndFill(_ mapSpec: MapSpec) throws(CollectionError) -> Map {
        let name = mapSpec.name
        func failure(_ reason: MapError.Reason) -> CollectionError {
            CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: reason)))
        }
        if mapSpec.type == .structOps {
            return try createStructOpsMap(mapSpec)
        }
        let attributes = try creationAttributes(mapSpec)
        let descriptor = try withObjectBTF(for: mapSpec) { (btf: UInt32?, keyType: UInt32, valueType: UInt32) throws(CollectionError) -> FileDescriptor in
            guard let btf else { return try createDescriptor(attributes, spec: mapSpec) }
            var withBTF = attributes
            withBTF.btfFD = btf
            withBTF.btfKeyTypeID = keyType
            withBTF.btfValueTypeID = valueType
            do throws(CollectionError) {
                return try createDescriptor(withBTF, spec: mapSpec)
            } catch where Self.isRefusalOfBTF(error) {
                // Some kernels refuse BTF for some map types (ENOTSUPP from a type without
                // `map_check_btf`, EINVAL for a key or value type they do not accept): as
                // cilium/ebpf does, try once more without it. The map works the same, only
                // `bpftool map dump` shows raw bytes.
                return try createDescriptor(attributes, spec: mapSpec)
            }
        }
        let map: Map
        do throws(MapError) {
            map = try Map(
                owning: descriptor, name: name, type: mapSpec.type, keySize: mapSpec.keySize,
                valueSize: mapSpec.valueSize, maxEntries: mapSpec.maxEntries, flags: mapSpec.flags, operation: .create)
        } catch {
            throw CollectionError(.map(name), .map(error))
        }
        do throws(MapError) {
            if mapSpec.type == .arena {
                // Mapped now, before any program loads: the kernel gives a program the arena's
                // user address for each `__arena` global (arena_map_direct_value_addr), and
                // that address exists only once the arena is mapped or was given a `map_extra`.
                // libbpf maps every arena it creates at this point too.
                _ = try map.arenaMemory()
            }
            var holdsReferences = false
            for entry in mapSpec.contents {
                guard case .bytes(let value) = entry.value else {
                    holdsReferences = true
                    continue
                }
                if mapSpec.type == .arena {
                    try map.writeArenaGlobals(value)
                } else {
                    try map.update(keyBytes: entry.key, valueBytes: value)
                }
            }
            if mapSpec.freeze && !holdsReferences {
                try map.freeze()
            }
        } catch {
            try? map.close()
            throw CollectionError(.map(name), .map(error))
        }
        return map
    }

    /// `BPF_MAP_CREATE`'s attributes for `mapSpec` without BTF or an inner map: type, sizes,
    /// flags, NUMA node, name, and the load's token.
    private func creationAttributes(_ mapSpec: MapSpec) throws(CollectionError) -> MapCreateAttr {
        var attributes: MapCreateAttr
        do throws(MapError) {
            attributes = try mapSpec.creationAttributes()
        } catch {
            throw CollectionError(.map(mapSpec.name), .map(error))
        }
        if let token {
            attributes.mapTokenFD = token
            attributes.mapFlags |= MapFlags.tokenFileDescriptor.rawValue
        }
        return attributes
    }

    /// Whether a map creation that carried BTF failed in a way that creating it without BTF may
    /// avoid: EINVAL or ENOTSUPP (524).
    static func isRefusalOfBTF(_ error: CollectionError) -> Bool {
        guard case .map(let mapError) = error.reason, let errno = mapError.syscallError?.errno else { return false }
        return errno == .invalidArgument || errno == .kernelNotSupported
    }

    /// Runs `body` with the BTF descriptor and type ids for `mapSpec`, or nil and zeros when the
    /// map has no BTF value type, its type takes no BTF, or the object's BTF is not loaded.
    ///
    /// A key type is never sent without a value type: the kernel reads BTF only when
    /// `btf_value_type_id` is set and refuses a lone key id with EINVAL, whatever the map type
    /// (a BTF program array whose `values` are initialised has a key type and no value type).
    /// A value type without a key type is sent with key id 0, which maps without keys (bloom
    /// filters, queues) need.
    private func withObjectBTF<Result: ~Copyable>(
        for mapSpec: MapSpec, _ body: (UInt32?, UInt32, UInt32) throws(CollectionError) -> Result
    ) throws(CollectionError) -> Result {
        guard let objectBTF, mapSpec.valueType != nil, !Self.mapTypesWithoutBTF.contains(mapSpec.type) else {
            return try body(nil, 0, 0)
        }
        // The handle stays open for the whole load, so its number is valid here.
        return try body(objectBTF.rawDescriptor, mapSpec.keyType?.rawValue ?? 0, mapSpec.valueType?.rawValue ?? 0)
    }

    /// Map types whose key and value the kernel does not take BTF for (their values are
    /// descriptors, CPU numbers or nothing), so libbpf leaves it out for them too.
    static let mapTypesWithoutBTF: Set<MapType> = [
        .perfEventArray, .cgroupArray, .stackTrace, .arrayOfMaps, .hashOfMaps, .devmap, .devmapHash, .cpumap,
        .xskmap, .sockmap, .sockhash, .queue, .stack, .arena,
    ]

    private func createDescriptor(_ attributes: MapCreateAttr, spec mapSpec: MapSpec) throws(CollectionError) -> FileDescriptor {
        var attributes = attributes
        let name = mapSpec.name
        func failure(_ error: BPFSyscallError) -> CollectionError {
            CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: .syscall(error))))
        }
        guard mapSpec.type == .arrayOfMaps || mapSpec.type == .hashOfMaps else {
            do throws(BPFSyscallError) {
                return try Sys.mapCreate(attributes)
            } catch {
                throw failure(error)
            }
        }
        guard var template = mapSpec.innerMap else {
            throw CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: .missingInnerMap(mapSpec.type))))
        }
        // The kernel copies the template's properties; the template itself is closed again. It
        // is made here rather than by `Map(spec:)` so that it carries the load's token too.
        template.contents = []
        template.freeze = false
        template.pinning = .none
        var inner = try createDescriptor(try creationAttributes(template), spec: template)
        defer { try? inner.close() }
        // The deferred close keeps the template open until the map is created.
        attributes.innerMapFD = UInt32(bitPattern: inner.rawValue)
        do throws(BPFSyscallError) {
            return try Sys.mapCreate(attributes)
        } catch {
            throw failure(error)
        }
    }

    // MARK: - References in contents

    /// Writes the contents that name programs (program arrays) and maps (maps of maps), then
    /// freezes the map if it asks for it. Pinned maps that were reused are left as they are.
    func fillReferences(ofMap name: String) throws(CollectionError) {
        guard let mapSpec = spec.maps[name], let map = objects.maps[name], !objects.replacedMapNames.contains(name)
        else { return }
        let references = mapSpec.contents.filter {
            if case .bytes = $0.value { return false }
            return true
        }
        guard !references.isEmpty, !isReusedPin(name) else { return }
        do throws(MapError) {
            for entry in references {
                switch entry.value {
                case .bytes:
                    continue
                case .program(let programName):
                    guard let program = objects.programs[programName] else {
                        throw MapError(mapName: name, operation: .update, reason: .unresolvedContentsReference(name: programName, entryIndex: 0))
                    }
                    try program.descriptor.borrow(orThrow: { MapError(mapName: name, operation: .update, reason: .closed) }) {
                        (raw: Int32) throws(MapError) in
                        try map.update(keyBytes: entry.key, valueBytes: withUnsafeBytes(of: UInt32(bitPattern: raw)) { Array($0) })
                    }
                case .map(let innerName):
                    guard let inner = objects.maps[innerName] else {
                        throw MapError(mapName: name, operation: .update, reason: .unresolvedContentsReference(name: innerName, entryIndex: 0))
                    }
                    try inner.withRawDescriptor(.update) { (raw: UInt32) throws(MapError) in
                        try map.update(keyBytes: entry.key, valueBytes: withUnsafeBytes(of: raw) { Array($0) })
                    }
                }
            }
            if mapSpec.freeze {
                try map.freeze()
            }
        } catch {
            throw CollectionError(.fillMap(name), .map(error))
        }
    }

    /// Whether map `name` was found pinned rather than created by this load.
    func isReusedPin(_ name: String) -> Bool {
        guard let path = objects.maps[name]?.pinnedPath else { return false }
        return !objects.createdPins.contains(path)
    }
}
