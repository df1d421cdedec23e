import Glibc

/// Reads 32-bit words in one byte order. The hot loops are generic over it so the byte order is
/// decided once per loop, not once per word.
protocol WordReading {
    static func word(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32
}

enum LittleEndianWords: WordReading {
    @inline(__always)
    static func word(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

enum BigEndianWords: WordReading {
    @inline(__always)
    static func word(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// One heap allocation holding a whole blob. It is immutable once filled, which is what makes
/// sharing it between threads safe.
final class ByteStorage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int
    /// Whether `base` is a read-only file mapping (unmapped on deinit) rather than `malloc` memory.
    private let isMapped: Bool

    /// Takes ownership of memory from `malloc`.
    private init(adopting base: UnsafeMutableRawPointer, count: Int) {
        self.base = base
        self.count = count
        isMapped = false
    }

    /// Takes ownership of a mapping of `count` bytes from `mmap`.
    private init(mapping base: UnsafeMutableRawPointer, count: Int) {
        self.base = base
        self.count = count
        isMapped = true
    }

    deinit {
        if isMapped {
            munmap(base, count)
        } else {
            free(base)
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Zeroed memory for `count` bytes, for a producer (such as the kernel) to fill before any
    /// spec reads it.
    static func zeroed(count: Int) -> ByteStorage? {
        guard count >= 0, let memory = calloc(max(count, 1), 1) else { return nil }
        return ByteStorage(adopting: memory, count: count)
    }

    /// A copy of `bytes` in a fresh allocation.
    static func copying<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ByteStorage? {
        let count = bytes.count
        guard let memory = malloc(max(count, 1)) else { return nil }
        let target = UnsafeMutableRawBufferPointer(start: memory, count: count)
        let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
            target.copyMemory(from: UnsafeRawBufferPointer(source))
        }
        if copied == nil {
            var index = 0
            for byte in bytes where index < count {
                target[index] = byte
                index += 1
            }
        }
        return ByteStorage(adopting: memory, count: count)
    }

    /// The whole contents of the file at `path`, read with as few copies as the file allows.
    ///
    /// The size from `fstat` sizes the allocation; sysfs reports it for BTF, and files whose size
    /// is unknown or wrong grow the buffer as needed.
    static func reading(path: String) throws(BTFError) -> ByteStorage {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .readFailed(path: path, errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        var capacity = 64 * 1024
        if fstat(descriptor, &status) == 0, status.st_size > 0 {
            if let mapped = mappingKernelBTF(descriptor, size: Int(status.st_size)) { return mapped }
            // One spare byte lets the loop see end of file without a second allocation.
            capacity = Int(status.st_size) + 1
        }
        guard var memory = malloc(capacity) else { throw .readFailed(path: path, errno: ENOMEM) }
        var filled = 0
        while true {
            if filled == capacity {
                let (doubled, overflow) = capacity.multipliedReportingOverflow(by: 2)
                guard !overflow, let grown = realloc(memory, doubled) else {
                    free(memory)
                    throw .readFailed(path: path, errno: ENOMEM)
                }
                memory = grown
                capacity = doubled
            }
            let count = read(descriptor, memory + filled, capacity - filled)
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                free(memory)
                throw .readFailed(path: path, errno: code)
            }
            if count == 0 { break }
            filled += count
        }
        return ByteStorage(adopting: memory, count: filled)
    }

    /// Where the kernel publishes its BTF in sysfs.
    private static let kernelBTFDirectory = "/sys/kernel/btf"

    /// A read-only mapping of a BTF file of sysfs, or nil where the kernel does not map it.
    ///
    /// Linux 6.16 and later map `/sys/kernel/btf/vmlinux` (commit "btf: Allow mmap of vmlinux
    /// btf"): the mapping shows the kernel's own copy, so nothing is copied and, since the pages
    /// are the kernel's, none counts towards the process's resident set. Earlier kernels and
    /// module BTF refuse the mapping and the file is read. Only files on the file system of
    /// `/sys/kernel/btf` (sysfs) are mapped: their BTF cannot shrink under the mapping, whereas a
    /// regular file truncated by someone else would make reading the mapping fault.
    private static func mappingKernelBTF(_ descriptor: Int32, size: Int) -> ByteStorage? {
        var file = stat()
        var directory = stat()
        guard fstat(descriptor, &file) == 0, (file.st_mode & S_IFMT) == S_IFREG,
            stat(kernelBTFDirectory, &directory) == 0, file.st_dev == directory.st_dev
        else { return nil }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            return nil
        }
        return ByteStorage(mapping: mapping, count: size)
    }
}
