import CEBPF
import EBPFCollection
import EBPFSys
import Glibc

/// The bits the kernel keeps in the top of a ring buffer record's 32-bit length.
@usableFromInline
enum RingBufferHeader {
    /// `BPF_RINGBUF_BUSY_BIT`: reserved and not yet submitted.
    @usableFromInline static let busyBit: UInt32 = 1 << 31
    /// `BPF_RINGBUF_DISCARD_BIT`: submitted as discarded; the consumer skips it.
    @usableFromInline static let discardBit: UInt32 = 1 << 30
    /// `BPF_RINGBUF_HDR_SZ`: the length word and the page offset word.
    @usableFromInline static let size = 8
    /// The length bits of the header word.
    @usableFromInline static let lengthMask: UInt32 = 0x3fff_ffff

    /// The bytes a record of `length` occupies: header plus data, rounded up to 8.
    @inlinable @inline(__always)
    static func footprint(_ length: UInt32) -> UInt64 {
        (UInt64(length) &+ UInt64(size) &+ 7) & ~7
    }
}

/// One `BPF_MAP_TYPE_RINGBUF` or `BPF_MAP_TYPE_USER_RINGBUF` mapped into this process.
///
/// The kernel's layout, from offset 0 of the map's descriptor: one page with the consumer
/// position, one page with the producer position, then the data pages mapped twice in a row, so
/// that a record which wraps around the end of the ring is still contiguous in memory. For a
/// kernel-produced ring user space writes the consumer page and only reads the rest; for a user
/// ring buffer it is the other way round.
///
/// Sendable by hand: the owning reader hands a mapping to one consumer (or one producer) at a time
/// and releases it only when nobody uses it (see ``EventPoller``).
final class RingMapping: @unchecked Sendable {
    let mapName: String
    /// The map's descriptor, owned (a duplicate of the caller's map).
    let descriptor: Int32
    let consumerPage: UnsafeMutableRawPointer
    let producerRegion: UnsafeMutableRawPointer
    let producerRegionLength: Int
    /// The ring's size in bytes; a power of two.
    let size: UInt64
    let mask: UInt64
    /// The longest record that fits: the ring's size less one header. Anything longer would reach
    /// past the second mapping of the data pages.
    let maxRecordLength: UInt32
    /// The first of the data pages. Stored rather than computed: the page size is a global whose
    /// every access checks that it was initialised, which shows per record.
    let data: UnsafeMutableRawPointer

    var consumerPosition: UnsafeMutableRawPointer { consumerPage }
    var producerPosition: UnsafeMutableRawPointer { producerRegion }

    /// Maps `map`, which must have `type`. `userProduces` selects which half is writable.
    init(map: Map, type: MapType, userProduces: Bool) throws(ReaderError) {
        guard map.type == type else {
            throw .wrongMapType(map: map.name, found: map.type, expected: type)
        }
        let size = UInt64(map.maxEntries)
        let page = UInt64(systemPageSize)
        guard size >= page, size & (size - 1) == 0, size % page == 0, size <= UInt64(Int.max / 4) else {
            throw .invalidRingSize(map: map.name, size: size)
        }
        let owned: FileDescriptor
        do throws(MapError) {
            owned = try map.duplicateFileDescriptor()
        } catch {
            throw .map(error)
        }
        let raw = owned.relinquish()
        let consumerProtection = userProduces ? PROT_READ : PROT_READ | PROT_WRITE
        let producerProtection = userProduces ? PROT_READ | PROT_WRITE : PROT_READ
        let consumer: UnsafeMutableRawPointer
        switch SystemCalls.mapShared(length: systemPageSize, protection: consumerProtection, descriptor: raw, offset: 0) {
        case .success(let address):
            consumer = address
        case .failure(let error):
            closeQuietly(raw)
            throw .systemCall(call: "mmap consumer page", map: map.name, errno: error)
        }
        let producerLength = systemPageSize + 2 * Int(size)
        let producer: UnsafeMutableRawPointer
        switch SystemCalls.mapShared(
            length: producerLength, protection: producerProtection, descriptor: raw, offset: systemPageSize)
        {
        case .success(let address):
            producer = address
        case .failure(let error):
            SystemCalls.unmap(consumer, length: systemPageSize)
            closeQuietly(raw)
            throw .systemCall(call: "mmap producer pages", map: map.name, errno: error)
        }
        self.mapName = map.name
        self.descriptor = raw
        self.consumerPage = consumer
        self.producerRegion = producer
        self.producerRegionLength = producerLength
        self.size = size
        self.mask = size - 1
        self.maxRecordLength = UInt32(clamping: size - UInt64(RingBufferHeader.size))
        self.data = producer + systemPageSize
    }

    /// A ring in anonymous memory this process mapped itself, watched through `descriptor`; both
    /// become the mapping's, released as a map's are. Tests forge rings the kernel never writes
    /// (corrupt headers, records of any size) through it: a user ring buffer's consumer page is
    /// read-only, so a forged ring there cannot be consumed.
    init(
        forgedName: String, descriptor: Int32, consumerPage: UnsafeMutableRawPointer,
        producerRegion: UnsafeMutableRawPointer, size: UInt64
    ) {
        self.mapName = forgedName
        self.descriptor = descriptor
        self.consumerPage = consumerPage
        self.producerRegion = producerRegion
        self.producerRegionLength = systemPageSize + 2 * Int(size)
        self.size = size
        self.mask = size - 1
        self.maxRecordLength = UInt32(clamping: size - UInt64(RingBufferHeader.size))
        self.data = producerRegion + systemPageSize
    }

    private var released = false

    /// Unmaps the ring and closes the descriptor. Calling it again does nothing.
    func release() {
        guard !released else { return }
        released = true
        SystemCalls.unmap(consumerPage, length: systemPageSize)
        SystemCalls.unmap(producerRegion, length: producerRegionLength)
        closeQuietly(descriptor)
    }

    deinit {
        release()
    }

    @inline(__always) func loadConsumerPosition() -> UInt64 { cebpf_load_acquire_u64(consumerPosition) }
    @inline(__always) func loadProducerPosition() -> UInt64 { cebpf_load_acquire_u64(producerPosition) }

    /// The bytes written and not yet consumed.
    var pendingBytes: Int {
        let consumer = loadConsumerPosition()
        let producer = loadProducerPosition()
        return producer >= consumer ? Int(clamping: producer - consumer) : 0
    }
}
