import CEBPF
import EBPFCollection
import EBPFSys
import Synchronization

/// When the kernel wakes a waiting perf reader.
public enum PerfWakeup: Sendable, Hashable {
    /// After this many samples (`wakeup_events`).
    case events(Int)
    /// After this many bytes (`wakeup_watermark` with the `watermark` bit).
    case bytes(Int)
}

/// How a ``PerfEventReader`` sets up its rings.
public struct PerfReaderOptions: Sendable, Hashable {
    /// The data size of each CPU's ring, rounded up to a power-of-two number of pages.
    public var perCPUBufferSize: Int
    /// When the kernel wakes a waiting read.
    public var wakeup: PerfWakeup
    /// Overwritable (backward) rings: the kernel never stops for a slow reader but overwrites
    /// the oldest records, and a read returns what is there, newest first per CPU. Without it a
    /// full ring drops new samples and reports them as lost.
    public var overwritable: Bool

    public init(perCPUBufferSize: Int = 64 * 1024, wakeup: PerfWakeup = .events(1), overwritable: Bool = false) {
        self.perCPUBufferSize = perCPUBufferSize
        self.wakeup = wakeup
        self.overwritable = overwritable
    }
}

/// A perf record as it sits in (or was copied out of) a CPU's ring, valid only inside the closure
/// it is handed to.
public struct PerfRecordView {
    /// The CPU whose ring held the record.
    public let cpu: Int
    /// The sample's raw bytes. The kernel pads samples so that the record stays 8-byte aligned,
    /// so this may be up to 7 bytes longer than what the program wrote. Empty for lost records.
    public let bytes: UnsafeRawBufferPointer
    /// For a `PERF_RECORD_LOST`, how many samples the kernel dropped (ring full); otherwise 0.
    public let lostSamples: UInt64

    @usableFromInline
    init(cpu: Int, bytes: UnsafeRawBufferPointer, lostSamples: UInt64) {
        self.cpu = cpu
        self.bytes = bytes
        self.lostSamples = lostSamples
    }

    /// The bytes decoded as `Value`, nil when the sample is shorter.
    public func load<Value: BitwiseCopyable>(as type: Value.Type = Value.self) -> Value? {
        guard bytes.count >= MemoryLayout<Value>.size else { return nil }
        return bytes.loadUnaligned(as: Value.self)
    }

    /// A copy that outlives the closure.
    public func copy() -> PerfRecord {
        PerfRecord(cpu: cpu, bytes: Array(bytes), lostSamples: lostSamples)
    }
}

/// A perf record copied out of a ring: a sample, or a count of lost samples.
public struct PerfRecord: Sendable, Hashable {
    public var cpu: Int
    /// The sample's raw bytes (possibly padded, see ``PerfRecordView/bytes``); empty for lost records.
    public var bytes: [UInt8]
    /// How many samples the kernel dropped; 0 for samples.
    public var lostSamples: UInt64

    public init(cpu: Int, bytes: [UInt8], lostSamples: UInt64) {
        self.cpu = cpu
        self.bytes = bytes
        self.lostSamples = lostSamples
    }

    /// The bytes decoded as `Value`, nil when the sample is shorter.
    public func decode<Value: BitwiseCopyable>(as type: Value.Type = Value.self) -> Value? {
        guard bytes.count >= MemoryLayout<Value>.size else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }
}

/// Reads what BPF programs send with `bpf_perf_event_output` through a
/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one ring per CPU.
///
/// For each possible CPU (up to the map's size) the reader opens a `PERF_COUNT_SW_BPF_OUTPUT`
/// event, maps its ring and stores the event in the map at the CPU's index; CPUs that are
/// offline (`ENODEV`) are skipped. Samples come with their CPU; samples the kernel dropped because
/// a ring was full arrive as records carrying ``PerfRecord/lostSamples``. Waiting, closing and the
/// asynchronous sequence behave as for ``RingBufferReader``.
///
/// ```swift
/// let reader = try PerfEventReader(events, options: PerfReaderOptions(perCPUBufferSize: 4096))
/// let record = try reader.read(timeout: .seconds(1))
/// ```
public final class PerfEventReader: @unchecked Sendable {
    // Sendable by hand: the rings' cursors are touched only by the holder of the poller's read
    // slot; pause and resume only change map entries.
    @usableFromInline let rings: [PerfRing]
    let poller: EventPoller
    private let map: Map
    private var rotation = RingRotation()
    private let paused = Mutex(false)

    /// The map's name.
    public let mapName: String
    /// The options the rings were made with.
    public let options: PerfReaderOptions

    /// Opens one ring per online CPU and stores them in `map`.
    public init(_ map: Map, options: PerfReaderOptions = PerfReaderOptions()) throws(ReaderError) {
        guard map.type == .perfEventArray else {
            throw .wrongMapType(map: map.name, found: map.type, expected: .perfEventArray)
        }
        let possible: Int
        do throws(PossibleCPUsError) {
            possible = try PossibleCPUs.count()
        } catch {
            throw .possibleCPUs(error)
        }
        let pages = Self.dataPages(for: options.perCPUBufferSize)
        let clone: Map
        do throws(MapError) {
            clone = try map.clone()
        } catch {
            throw .map(error)
        }
        var rings: [PerfRing] = []
        do throws(ReaderError) {
            for cpu in 0..<min(possible, Int(map.maxEntries)) {
                guard
                    let ring = try PerfRing(
                        cpu: cpu, dataPages: pages, wakeup: options.wakeup, overwritable: options.overwritable,
                        mapName: map.name)
                else { continue }
                rings.append(ring)
            }
            guard !rings.isEmpty else { throw ReaderError.noOnlineCPUs(map: map.name) }
            try Self.store(rings, in: clone)
        } catch {
            // The events stored before the failure stay in the map, keeping their rings alive in
            // the kernel, until they are removed: the map is the caller's and outlives the clone.
            Self.remove(rings, from: clone)
            for ring in rings { ring.release() }
            try? clone.close()
            throw error
        }
        let mappings = rings
        do throws(ReaderError) {
            poller = try EventPoller(label: map.name) {
                Self.remove(mappings, from: clone)
                for ring in mappings { ring.release() }
                try? clone.close()
            }
        } catch {
            Self.remove(rings, from: clone)
            for ring in rings { ring.release() }
            try? clone.close()
            throw error
        }
        self.rings = rings
        self.map = clone
        self.mapName = map.name
        self.options = options
        for (index, ring) in rings.enumerated() {
            try poller.register(ring.descriptor, token: UInt64(index))
        }
    }

    deinit {
        poller.close()
    }

    /// The number of data pages: a power of two covering `bytes`.
    static func dataPages(for bytes: Int) -> Int {
        var pages = 1
        while pages * systemPageSize < bytes, pages < (1 << 20) {
            pages *= 2
        }
        return pages
    }

    private static func store(_ rings: [PerfRing], in map: Map) throws(ReaderError) {
        for ring in rings {
            do throws(MapError) {
                try map.update(UInt32(ring.cpu), UInt32(bitPattern: ring.descriptor))
            } catch {
                throw .map(error)
            }
        }
    }

    private static func remove(_ rings: [PerfRing], from map: Map) {
        for ring in rings {
            _ = try? map.delete(UInt32(ring.cpu))
        }
    }

    // MARK: - Facts

    /// The CPUs that have a ring, in ascending order.
    public var cpus: [Int] { rings.map(\.cpu) }

    /// The data size of each CPU's ring, in bytes.
    public var perCPUBufferSize: Int { rings.first.map { Int($0.size) } ?? 0 }

    /// Bytes written into `cpu`'s ring and not yet read; 0 for CPUs without a ring or once closed.
    public func pendingBytes(cpu: Int) -> Int {
        guard let ring = rings.first(where: { $0.cpu == cpu }) else { return 0 }
        return poller.withResources { ring.pendingBytes } ?? 0
    }

    // MARK: - Lifetime

    /// Ends waiting reads with ``ReaderError/closed``, removes the events from the map and
    /// releases the rings (when the read in flight, if any, returns). Calling it again does nothing.
    public func close() {
        poller.close()
    }

    public var isClosed: Bool { poller.isClosed }

    /// Stops programs from writing: removes the events from the map, so `bpf_perf_event_output`
    /// fails with `ENOENT` until ``resume()``. Records already in the rings can still be read.
    public func pause() throws(ReaderError) {
        guard !poller.isClosed else { throw .closed }
        try paused.withLock { (paused: inout Bool) throws(ReaderError) in
            for ring in rings {
                do throws(MapError) {
                    _ = try map.delete(UInt32(ring.cpu))
                } catch {
                    throw .map(error)
                }
            }
            paused = true
        }
    }

    /// Puts the events back into the map after ``pause()``.
    public func resume() throws(ReaderError) {
        guard !poller.isClosed else { throw .closed }
        try paused.withLock { (paused: inout Bool) throws(ReaderError) in
            try Self.store(rings, in: map)
            paused = false
        }
    }

    // MARK: - Reading

    /// Waits for the next record and runs `body` on it in place (or on a copy when it wraps
    /// around the ring's end). The space goes back to the kernel when `body` returns.
    public func readRecord<Result>(
        deadline: ContinuousClock.Instant? = nil, _ body: (PerfRecordView) throws -> Result
    ) throws -> Result {
        try readRethrowing(body) { (handler: (PerfRecordView) -> Result?) throws(ReaderError) in
            try withNextRecord(deadline: deadline, handler)
        }
    }

    /// Waits for the next record and returns a copy.
    /// - Throws: ``ReaderError/timedOut`` when `deadline` passes first, ``ReaderError/closed``
    ///   when the reader is or gets closed.
    public func read(deadline: ContinuousClock.Instant? = nil) throws(ReaderError) -> PerfRecord {
        try withNextRecord(deadline: deadline) { $0.copy() }
    }

    /// Waits up to `timeout` for the next record and returns a copy.
    public func read(timeout: Duration) throws(ReaderError) -> PerfRecord {
        try read(deadline: .now.advanced(by: timeout))
    }

    /// Hands every record available now to `body`, CPU by CPU, without waiting; returns how many.
    ///
    /// Inlinable with the rings' loop, so that `body` runs inside the loop rather than being
    /// called for each record.
    @inlinable
    @discardableResult
    public func consume(_ body: (PerfRecordView) -> Void) throws(ReaderError) -> Int {
        try beginRead()
        defer { endRead() }
        var count = 0
        for ring in rings {
            count &+= try ring.drain(mapName: mapName, body)
        }
        return count
    }

    /// Claims the reader's single consumer slot for ``consume(_:)``.
    @usableFromInline
    func beginRead() throws(ReaderError) {
        try poller.beginRead()
    }

    /// Gives the consumer slot back.
    @usableFromInline
    func endRead() {
        poller.endRead()
    }

    func withNextRecord<Result>(
        deadline: ContinuousClock.Instant?, _ body: (PerfRecordView) -> Result
    ) throws(ReaderError) -> Result {
        try poller.readNext(deadline: deadline) { () throws(ReaderError) in try nextRecordInAnyRing(body) }
    }

    /// The next record of any CPU, without waiting; CPUs take turns.
    func nextRecordInAnyRing<Result>(_ body: (PerfRecordView) -> Result) throws(ReaderError) -> Result? {
        try rotation.firstResult(count: rings.count) { index throws(ReaderError) in try rings[index].next(mapName: mapName, body) }
    }

    func nextRecordWithoutWaiting() throws(ReaderError) -> PerfRecord? {
        try poller.beginRead()
        defer { poller.endRead() }
        return try nextRecordInAnyRing { $0.copy() }
    }
}

extension PerfEventReader {
    /// The records as an asynchronous sequence; it ends when the reader is closed or the task is
    /// cancelled, like ``RingBufferReader/records``.
    public var records: Records {
        Records(reader: self)
    }

    /// The records of a ``PerfEventReader`` as an `AsyncSequence`.
    public struct Records: AsyncSequence, Sendable {
        public typealias Element = PerfRecord
        public typealias Failure = ReaderError

        let reader: PerfEventReader

        public func makeAsyncIterator() -> Iterator {
            Iterator(reader: reader)
        }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = PerfRecord
            public typealias Failure = ReaderError

            let reader: PerfEventReader

            public mutating func next() async throws(ReaderError) -> PerfRecord? {
                while true {
                    if Task.isCancelled { return nil }
                    do throws(ReaderError) {
                        if let record = try reader.nextRecordWithoutWaiting() {
                            return record
                        }
                    } catch .closed {
                        return nil
                    }
                    switch await reader.poller.waitAsync() {
                    case .ready: continue
                    case .closed, .cancelled: return nil
                    case .failed(let error): throw error
                    }
                }
            }
        }
    }
}
