import EBPFSys
import Glibc

/// The values of an array map created with ``MapFlags/mmapable``, mapped into this process: reads
/// and writes go straight to the kernel's memory, without system calls.
///
/// Element `i` starts at byte `i * stride`, where the stride is the value size rounded up to 8.
/// The mapping stays valid while this object lives, even after the map is closed. Programs change
/// the memory concurrently; what a read sees is whatever the last write left.
///
/// ```swift
/// let memory = try map.memoryMapped()
/// memory.store(UInt64(1), toByteOffset: 0)
/// ```
public final class MapMemory: @unchecked Sendable {
    // Sendable by hand: the region is shared with the kernel and with BPF programs anyway; this
    // object only hands out bounds-checked loads and stores and never moves or frees it early.
    private let base: UnsafeMutableRawPointer
    private let mappedLength: Int
    /// The bytes that hold values (`maxEntries` elements of ``stride`` bytes).
    public let count: Int
    /// The distance between elements.
    public let stride: Int
    /// Whether the mapping is read-only (the map is frozen or read-only for user space).
    public let isReadOnly: Bool

    init(base: UnsafeMutableRawPointer, mappedLength: Int, count: Int, stride: Int, isReadOnly: Bool) {
        self.base = base
        self.mappedLength = mappedLength
        self.count = count
        self.stride = stride
        self.isReadOnly = isReadOnly
    }

    deinit {
        SystemCalls.unmap(base, length: mappedLength)
    }

    /// The value at `offset`, nil when it would reach past the values.
    public func load<Value: BitwiseCopyable>(fromByteOffset offset: Int, as type: Value.Type = Value.self) -> Value? {
        guard offset >= 0, offset <= count - MemoryLayout<Value>.size else { return nil }
        return UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: Value.self)
    }

    /// Writes `value` at `offset`; false when it would reach past the values or the mapping is
    /// read-only.
    @discardableResult
    public func store<Value: BitwiseCopyable>(_ value: Value, toByteOffset offset: Int) -> Bool {
        guard !isReadOnly, offset >= 0, offset <= count - MemoryLayout<Value>.size else { return false }
        base.storeBytes(of: value, toByteOffset: offset, as: Value.self)
        return true
    }

    /// Copies `bytes` to `offset`; false when they would reach past the values or the mapping is
    /// read-only.
    @discardableResult
    public func copyIn(_ bytes: [UInt8], atByteOffset offset: Int) -> Bool {
        guard !isReadOnly, offset >= 0, offset <= count - bytes.count else { return false }
        bytes.withUnsafeBytes { source in
            guard let start = source.baseAddress else { return }
            (base + offset).copyMemory(from: start, byteCount: source.count)
        }
        return true
    }

    /// Runs `body` with the values' bytes, read-only.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }
}

extension Map {
    /// Maps the values of an array created with ``MapFlags/mmapable`` into this process (Linux
    /// 5.5). Maps read-only for user space are mapped read-only, and so are frozen maps and maps
    /// read-only for programs, whose writable mapping the kernel refuses: check
    /// ``MapMemory/isReadOnly``.
    public func memoryMapped(readOnly: Bool = false) throws(MapError) -> MapMemory {
        guard type == .array, flags.contains(.mmapable) else {
            throw error(.memoryMap, .notMemoryMappable(type, flags))
        }
        let stride = (Int(valueSize) + 7) & ~7
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        guard case (let count, false) = stride.multipliedReportingOverflow(by: Int(maxEntries)),
            case (let rounded, false) = count.addingReportingOverflow(pageSize - 1)
        else {
            throw error(.memoryMap, .memoryMapFailed(.outOfRange))
        }
        let length = max(rounded / pageSize * pageSize, pageSize)
        var mapReadOnly = readOnly || flags.contains(.readOnly)
        let address = try withRawDescriptor(.memoryMap) { (raw: UInt32) throws(MapError) -> UnsafeMutableRawPointer in
            var protection = mapReadOnly ? PROT_READ : PROT_READ | PROT_WRITE
            let descriptor = Int32(bitPattern: raw)
            var mapped = SystemCalls.mapShared(length: length, protection: protection, descriptor: descriptor, offset: 0)
            // A writable mapping of a frozen map fails with EPERM, and of a BPF_F_RDONLY_PROG map
            // with EACCES (bpf_map_mmap, since Linux 5.5 and 5.2's read-only program maps): such a
            // map can still be mapped for reading, as cilium/ebpf retries.
            if case .failure(let errno) = mapped, !mapReadOnly, errno == .notPermitted || errno == .permissionDenied {
                mapReadOnly = true
                protection = PROT_READ
                mapped = SystemCalls.mapShared(length: length, protection: protection, descriptor: descriptor, offset: 0)
            }
            switch mapped {
            case .success(let address): return address
            case .failure(let errno): throw error(.memoryMap, .memoryMapFailed(errno))
            }
        }
        return MapMemory(base: address, mappedLength: length, count: count, stride: stride, isReadOnly: mapReadOnly)
    }
}
