import EBPFSys
import Glibc

extension Map {
    /// Maps a BPF arena (``MapType/arena``, Linux 6.9) into this process: `maxEntries` pages
    /// that programs and user space share, at the same addresses on both sides.
    ///
    /// An arena created with a `map_extra` (libbpf's `__ulong(map_extra, addr)`) is mapped at that
    /// address, which must be free (`MAP_FIXED_NOREPLACE`); otherwise the kernel picks one. Pages
    /// are allocated when first touched, from either side. The returned memory's
    /// ``MapMemory/stride`` is the page size and its ``MapMemory/address`` is the arena's user
    /// address: what a pointer into the arena holds.
    ///
    /// The first call maps the arena; later calls (and ``clone()``s) return that same mapping,
    /// which this map keeps for its life. The kernel fixes an arena's user address at its first
    /// mapping and refuses to map it anywhere else (`arena_map_mmap` and
    /// `arena_get_unmapped_area`, Linux 6.9), so a second, independent mapping cannot exist. A
    /// collection load maps every arena it creates before loading programs: a program that
    /// uses `__arena` globals is given addresses inside the mapping.
    ///
    /// ```swift
    /// let arena = try Map(spec: MapSpec(name: "arena", type: .arena, keySize: 0, valueSize: 0,
    ///                                   maxEntries: 16, flags: .mmapable))
    /// let memory = try arena.arenaMemory()
    /// memory.store(UInt64(1), toByteOffset: 0)
    /// ```
    public func arenaMemory() throws(MapError) -> MapMemory {
        guard type == .arena else { throw error(.memoryMap, .notMemoryMappable(type, flags)) }
        return try arenaMapping.withLock { (mapping: inout MapMemory?) throws(MapError) -> MapMemory in
            if let mapping { return mapping }
            let made = try mapArena()
            mapping = made
            return made
        }
    }

    /// The arena's size in bytes (`maxEntries` pages of this machine), nil when it overflows.
    var arenaByteCount: Int? {
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        guard case (let length, false) = pageSize.multipliedReportingOverflow(by: Int(maxEntries)) else { return nil }
        return length
    }

    /// Copies an object's `__arena` globals (the bytes of its `.addr_space.1` section) to the
    /// start of the arena, mapping it first.
    ///
    /// Offset 0 is where libbpf 1.4 to 1.6 place them, and where the object reader's references
    /// to them point. libbpf after 1.6 ("libbpf: move arena globals to the end of the arena",
    /// December 2025) puts them in the arena's last pages instead, so that the first pages can
    /// stay unallocated as a guard against NULL pointers cast into the arena. An object does not
    /// depend on either placement, since programs reach the globals only through the addresses
    /// the loader gives them; offset 0 is kept here because it is what the libbpf releases with
    /// arenas that programs were written against do, and it keeps each global's arena offset
    /// equal to its section offset, so ``Variable`` and the spec's variables describe both alike.
    func writeArenaGlobals(_ bytes: [UInt8]) throws(MapError) {
        let memory = try arenaMemory()
        guard bytes.count <= memory.count else {
            throw error(.update, .arenaTooSmall(needed: bytes.count, available: memory.count))
        }
        memory.copyIn(bytes, atByteOffset: 0)
    }

    private func mapArena() throws(MapError) -> MapMemory {
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        guard let length = arenaByteCount, length > 0 else {
            throw error(.memoryMap, .memoryMapFailed(.outOfRange))
        }
        let requested = try info().mapExtra
        guard let hint = UInt(exactly: requested) else { throw error(.memoryMap, .memoryMapFailed(.outOfRange)) }
        // With a fixed address the kernel insists on it; without one it chooses
        // (arena_get_unmapped_area).
        let placement = requested == 0 ? MAP_SHARED : MAP_SHARED | MAP_FIXED_NOREPLACE
        let address = try withRawDescriptor(.memoryMap) { (raw: UInt32) throws(MapError) -> UnsafeMutableRawPointer in
            let mapped = SystemCalls.map(
                address: UnsafeMutableRawPointer(bitPattern: hint), length: length, protection: PROT_READ | PROT_WRITE,
                flags: placement, descriptor: Int32(bitPattern: raw), offset: 0)
            switch mapped {
            case .success(let address): return address
            case .failure(let errno): throw error(.memoryMap, .memoryMapFailed(errno))
            }
        }
        if requested != 0, UInt(bitPattern: address) != hint {
            // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a hint; no arena
            // kernel does, but a wrong address would make every arena pointer wrong.
            SystemCalls.unmap(address, length: length)
            throw error(.memoryMap, .memoryMapFailed(.fileExists))
        }
        return MapMemory(base: address, mappedLength: length, count: length, stride: pageSize, isReadOnly: false)
    }
}

extension MapMemory {
    /// Where the mapping starts in this process. For an arena this is the address programs see
    /// too, so pointers stored in the arena can be followed from either side.
    public var address: UInt64 {
        withUnsafeBytes { UInt64(UInt(bitPattern: $0.baseAddress)) }
    }
}
