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
    /// ```swift
    /// let arena = try Map(spec: MapSpec(name: "arena", type: .arena, keySize: 0, valueSize: 0,
    ///                                   maxEntries: 16, flags: .mmapable))
    /// let memory = try arena.arenaMemory()
    /// memory.store(UInt64(1), toByteOffset: 0)
    /// ```
    public func arenaMemory() throws(MapError) -> MapMemory {
        guard type == .arena else { throw error(.memoryMap, .notMemoryMappable(type, flags)) }
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        guard case (let length, false) = pageSize.multipliedReportingOverflow(by: Int(maxEntries)), length > 0 else {
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
