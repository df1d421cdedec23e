import CEBPF
import EBPFSys
import Glibc
import Synchronization

/// One CPU's perf ring: the BPF output event opened on that CPU and its mapping (a metadata page
/// followed by a power-of-two number of data pages, mapped once: records that wrap around the
/// end are copied out whole).
///
/// Sendable by hand: a reader hands a ring to one consumer at a time and releases it only when
/// nobody reads (see ``EventPoller``).
///
/// The forward drain (``drain(mapName:_:)``) is inlinable, so that ``PerfEventReader/consume(_:)``
/// runs the caller's closure inside the loop instead of calling it for each record.
@usableFromInline
final class PerfRing: @unchecked Sendable {
    @usableFromInline let cpu: Int
    let descriptor: Int32
    @usableFromInline let base: UnsafeMutableRawPointer
    let mappedLength: Int
    @usableFromInline let data: UnsafeRawPointer
    @usableFromInline let size: UInt64
    @usableFromInline let mask: UInt64
    @usableFromInline let overwritable: Bool

    /// Forward rings: how far this reader has read (mirrors `data_tail`).
    @usableFromInline var tail: UInt64 = 0
    /// Backward rings: the head at the previous snapshot; records above it were seen already.
    /// Atomic because ``pendingBytes`` may read it beside the reader.
    private let previousHead = Atomic<UInt64>(0)
    /// Backward rings: records copied out of the ring while its output was paused, newest first.
    private var snapshot: [UInt8] = []
    private var snapshotOffset = 0
    /// A record that wraps around the end of the ring, made contiguous.
    private var wrapped: [UInt8] = []
    private var released = false

    /// Opens the event on `cpu` and maps `dataPages` data pages. nil when the CPU is offline.
    init?(cpu: Int, dataPages: Int, wakeup: PerfWakeup, overwritable: Bool, mapName: String) throws(ReaderError) {
        let descriptor: Int32
        switch openBPFOutputEvent(cpu: cpu, wakeup: wakeup, overwritable: overwritable) {
        case .success(let value):
            descriptor = value
        case .failure(.noSuchDevice):
            return nil
        case .failure(let errno):
            throw .systemCall(call: "perf_event_open on CPU \(cpu)", map: mapName, errno: errno)
        }
        let length = (dataPages + 1) * systemPageSize
        // Backward rings are mapped read-only: the kernel then overwrites instead of stopping.
        let protection = overwritable ? PROT_READ : PROT_READ | PROT_WRITE
        let base: UnsafeMutableRawPointer
        switch SystemCalls.mapShared(length: length, protection: protection, descriptor: descriptor, offset: 0) {
        case .success(let address):
            base = address
        case .failure(let errno):
            closeQuietly(descriptor)
            throw .systemCall(call: "mmap perf ring of CPU \(cpu)", map: mapName, errno: errno)
        }
        self.cpu = cpu
        self.descriptor = descriptor
        self.base = base
        self.mappedLength = length
        self.data = UnsafeRawPointer(base + systemPageSize)
        self.size = UInt64(dataPages * systemPageSize)
        self.mask = size - 1
        self.overwritable = overwritable
        self.tail = overwritable ? 0 : cebpf_load_acquire_u64(base + PerfMetadataPage.dataTail)
        if overwritable { previousHead.store(loadHead(), ordering: .relaxed) }
    }

    func release() {
        guard !released else { return }
        released = true
        SystemCalls.unmap(base, length: mappedLength)
        closeQuietly(descriptor)
    }

    deinit {
        release()
    }

    @inlinable @inline(__always) func loadHead() -> UInt64 {
        // Acquire pairs with the kernel's release of data_head after writing the records below it.
        cebpf_load_acquire_u64(base + PerfMetadataPage.dataHead)
    }

    /// Bytes written and not yet read (for backward rings: since the last snapshot, at most the
    /// ring's size). May run beside the reader, so it reads only shared positions.
    var pendingBytes: Int {
        let head = loadHead()
        if overwritable {
            return Int(clamping: min(previousHead.load(ordering: .relaxed) &- head, size))
        }
        let read = cebpf_load_acquire_u64(base + PerfMetadataPage.dataTail)
        return head >= read ? Int(clamping: head - read) : 0
    }

    /// Hands the next sample or lost-samples record to `body`; nil when there is none now.
    @usableFromInline
    func next<Result>(mapName: String, _ body: (PerfRecordView) -> Result) throws(ReaderError) -> Result? {
        overwritable ? try nextBackward(mapName: mapName, body) : try nextForward(mapName: mapName, body)
    }

    /// Hands every record available now to `body`; returns how many it handed over. The batch
    /// form of ``next(mapName:_:)``: a forward ring's head is loaded and its tail stored once per
    /// batch instead of once per record, the ring's geometry is kept in locals (the call to `body`
    /// would make the compiler load it from the object again each time), and a sample that does
    /// not wrap, the common case, is handed out straight from the ring. Everything else (records
    /// that wrap, lost counts, other types, corrupt lengths, backward rings) is out of line.
    @inlinable
    func drain(mapName: String, _ body: (PerfRecordView) -> Void) throws(ReaderError) -> Int {
        guard !overwritable else {
            return try drainBackward(mapName: mapName, body)
        }
        var count = 0
        let data = self.data
        let mask = self.mask
        let ringSize = Int(truncatingIfNeeded: size)
        let cpu = self.cpu
        let tailAddress = base + PerfMetadataPage.dataTail
        var position = tail
        // Also on a corrupt record: what was read before it is given back.
        defer {
            tail = position
            // Release: the kernel may overwrite the space only after our reads of it are done.
            cebpf_store_release_u64(tailAddress, position)
        }
        while true {
            let head = loadHead()
            guard position < head else { return count }
            repeat {
                // Records are 8-byte aligned and so is the ring's size: a header never wraps.
                let offset = Int(truncatingIfNeeded: position & mask)
                let type = data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                let length = Int(data.loadUnaligned(fromByteOffset: offset &+ 6, as: UInt16.self))
                guard length >= 8, UInt64(length) <= head &- position else {
                    throw corruptRecord(mapName: mapName, position: position, length: UInt64(length))
                }
                if type == PerfRecordType.sample, offset &+ length <= ringSize {
                    // A sample in place: header, u32 size, the raw bytes. The size is below 2^32,
                    // so the sum does not overflow, and it covers `length >= 12`.
                    let rawLength = Int(data.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt32.self))
                    guard rawLength &+ 12 <= length else {
                        throw corruptSample(mapName: mapName, position: position, length: length, rawLength: rawLength)
                    }
                    body(PerfRecordView(cpu: cpu, bytes: UnsafeRawBufferPointer(start: data + (offset &+ 12), count: rawLength), lostSamples: 0))
                    count &+= 1
                } else if try deliverOutOfLine(at: offset, length: length, type: type, position: position, mapName: mapName, body) {
                    count &+= 1
                }
                position &+= UInt64(length)
            } while position < head
        }
    }

    /// ``drain(mapName:_:)`` of a backward ring, one record at a time from its snapshot.
    @usableFromInline
    func drainBackward(mapName: String, _ body: (PerfRecordView) -> Void) throws(ReaderError) -> Int {
        var count = 0
        while try next(mapName: mapName, body) != nil { count &+= 1 }
        return count
    }

    /// The records ``drain(mapName:_:)`` does not hand out in place: a record that wraps around
    /// the ring's end (copied whole first), a lost-samples record, and types that carry nothing
    /// for the reader (skipped: false). `length` was checked against the ring's head.
    @usableFromInline
    @inline(never)
    func deliverOutOfLine(
        at offset: Int, length: Int, type: UInt32, position: UInt64, mapName: String, _ body: (PerfRecordView) -> Void
    ) throws(ReaderError) -> Bool {
        try withContiguousRecord(at: offset, length: length) { record throws(ReaderError) in
            try decode(record, type: type, position: position, mapName: mapName, body) != nil
        }
    }

    /// The error for a record whose length is below a header's or beyond the written data.
    @usableFromInline
    @inline(never)
    func corruptRecord(mapName: String, position: UInt64, length: UInt64) -> ReaderError {
        .corruptRecord(map: mapName, position: position, length: length, ringSize: size)
    }

    /// The error for a sample too short for its size word (its length is reported) or whose size
    /// word claims more than the record holds (the size word is reported).
    @usableFromInline
    @inline(never)
    func corruptSample(mapName: String, position: UInt64, length: Int, rawLength: Int) -> ReaderError {
        corruptRecord(mapName: mapName, position: position, length: UInt64(length < 12 ? length : rawLength))
    }

    private func nextForward<Result>(mapName: String, _ body: (PerfRecordView) -> Result) throws(ReaderError) -> Result? {
        let head = loadHead()
        while tail < head {
            let offset = Int(tail & mask)
            // Records are 8-byte aligned and so is the ring's size: a header never wraps.
            let type = data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            let length = Int(data.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
            guard length >= 8, UInt64(length) <= head - tail else {
                throw .corruptRecord(map: mapName, position: tail, length: UInt64(length), ringSize: size)
            }
            let result = try withContiguousRecord(at: offset, length: length) { record throws(ReaderError) in
                try decode(record, type: type, position: tail, mapName: mapName, body)
            }
            tail &+= UInt64(length)
            // Release: the kernel may overwrite the space only after our reads of it are done.
            cebpf_store_release_u64(base + PerfMetadataPage.dataTail, tail)
            if let result { return result }
        }
        return nil
    }

    private func nextBackward<Result>(mapName: String, _ body: (PerfRecordView) -> Result) throws(ReaderError) -> Result? {
        if snapshotOffset >= snapshot.count {
            takeSnapshot()
        }
        while snapshotOffset + 8 <= snapshot.count {
            let (result, length): (Result?, Int) = try snapshot.withBytes { bytes throws(ReaderError) in
                let type = bytes.loadUnaligned(fromByteOffset: snapshotOffset, as: UInt32.self)
                let length = Int(bytes.loadUnaligned(fromByteOffset: snapshotOffset + 6, as: UInt16.self))
                guard length >= 8, snapshotOffset + length <= bytes.count else { return (nil, 0) }
                let record = UnsafeRawBufferPointer(rebasing: bytes[snapshotOffset..<(snapshotOffset + length)])
                return (try decode(record, type: type, position: UInt64(snapshotOffset), mapName: mapName, body), length)
            }
            guard length > 0 else {
                // A record the kernel overwrote halfway: nothing older is whole either.
                snapshotOffset = snapshot.count
                break
            }
            snapshotOffset += length
            if let result { return result }
        }
        return nil
    }

    /// Copies the records written since the last snapshot (newest first, as the kernel lays a
    /// backward ring out) while the ring's output is paused, so that none is overwritten halfway
    /// through the copy.
    private func takeSnapshot() {
        snapshot.removeAll(keepingCapacity: true)
        snapshotOffset = 0
        _ = SystemCalls.ioctl(descriptor, request: PerfIOCTL.pauseOutput, value: 1)
        defer { _ = SystemCalls.ioctl(descriptor, request: PerfIOCTL.pauseOutput, value: 0) }
        let head = loadHead()
        // The kernel counts data_head down; what was written since the last snapshot lies from
        // the new head up to the old one, and only the newest `size` bytes of it survive.
        let available = min(previousHead.load(ordering: .relaxed) &- head, size)
        previousHead.store(head, ordering: .relaxed)
        var consumed: UInt64 = 0
        while consumed &+ 8 <= available {
            let offset = Int((head &+ consumed) & mask)
            let length = Int(data.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
            guard length >= 8, UInt64(length) <= available - consumed else { break }
            let first = min(length, Int(size) - offset)
            snapshot.append(contentsOf: UnsafeRawBufferPointer(start: data + offset, count: first))
            if first < length {
                snapshot.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length - first))
            }
            consumed &+= UInt64(length)
        }
    }

    /// Runs `body` on the record at `offset`, copying it first when it wraps around the end.
    @inline(__always)
    private func withContiguousRecord<Result>(
        at offset: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws(ReaderError) -> Result
    ) throws(ReaderError) -> Result {
        if offset + length <= Int(size) {
            return try body(UnsafeRawBufferPointer(start: data + offset, count: length))
        }
        let first = Int(size) - offset
        wrapped.removeAll(keepingCapacity: true)
        wrapped.append(contentsOf: UnsafeRawBufferPointer(start: data + offset, count: first))
        wrapped.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length - first))
        let copy = wrapped
        return try copy.withBytes { bytes throws(ReaderError) in try body(bytes) }
    }

    /// The sample's raw bytes or the lost count, handed to `body`; nil for other record types.
    @inline(__always)
    private func decode<Result>(
        _ record: UnsafeRawBufferPointer, type: UInt32, position: UInt64, mapName: String,
        _ body: (PerfRecordView) -> Result
    ) throws(ReaderError) -> Result? {
        switch type {
        case PerfRecordType.sample:
            guard record.count >= 12 else {
                throw .corruptRecord(map: mapName, position: position, length: UInt64(record.count), ringSize: size)
            }
            let rawLength = Int(record.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            guard rawLength <= record.count - 12 else {
                throw .corruptRecord(map: mapName, position: position, length: UInt64(rawLength), ringSize: size)
            }
            let raw = UnsafeRawBufferPointer(rebasing: record[12..<(12 + rawLength)])
            return body(PerfRecordView(cpu: cpu, bytes: raw, lostSamples: 0))
        case PerfRecordType.lost:
            guard record.count >= 24 else {
                throw .corruptRecord(map: mapName, position: position, length: UInt64(record.count), ringSize: size)
            }
            let lost = record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            return body(PerfRecordView(cpu: cpu, bytes: UnsafeRawBufferPointer(start: nil, count: 0), lostSamples: lost))
        default:
            return nil
        }
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` keeping the body's error type (the standard library's rethrows untyped).
    @inline(__always)
    func withBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeBytes { bytes in Swift.Result { () throws(Failure) in try body(bytes) } }.get()
    }
}
