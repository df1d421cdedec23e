import EBPFCollection
import EBPFSys

/// Why a ring buffer, perf event or user ring buffer operation failed.
public enum ReaderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The reader was closed, before or while the call waited.
    case closed
    /// The deadline passed before a record arrived.
    case timedOut
    /// Another thread or task is reading from the same reader; a ring has a single consumer.
    case concurrentRead
    /// The reader was given no maps.
    case noMaps
    /// A map of the wrong type (`expected` names what the reader needs).
    case wrongMapType(map: String, found: MapType, expected: MapType)
    /// The map's size is not a power-of-two multiple of the page size, so it cannot be a ring.
    case invalidRingSize(map: String, size: UInt64)
    /// A record header names a length that runs past the ring: the ring is corrupt.
    case corruptRecord(map: String, position: UInt64, length: UInt64, ringSize: UInt64)
    /// A user ring buffer record of `requested` bytes can never fit (`capacity` is the most).
    case recordTooLarge(requested: Int, capacity: Int)
    /// A user ring buffer has `available` free bytes, fewer than the `requested` record needs.
    case ringFull(requested: Int, available: Int)
    /// A system call failed: `call` names it and what it was for.
    case systemCall(call: String, map: String, errno: Errno)
    /// The map could not be used (closed, or a map operation failed).
    case map(MapError)
    /// The number of CPUs could not be determined.
    case possibleCPUs(PossibleCPUsError)
    /// No CPU could get a perf ring (every `perf_event_open` failed with `ENODEV`).
    case noOnlineCPUs(map: String)

    public var description: String {
        switch self {
        case .closed:
            return "the reader is closed"
        case .timedOut:
            return "no record arrived before the deadline"
        case .concurrentRead:
            return "another reader is reading; a ring has one consumer at a time"
        case .noMaps:
            return "a reader needs at least one map"
        case .wrongMapType(let map, let found, let expected):
            return "map \(map) has type \(found), the reader needs \(expected)"
        case .invalidRingSize(let map, let size):
            return "map \(map): \(size) bytes is not a power-of-two multiple of the page size"
        case .corruptRecord(let map, let position, let length, let ringSize):
            return "map \(map): the record at position \(position) claims \(length) bytes, past the ring of \(ringSize)"
        case .recordTooLarge(let requested, let capacity):
            return "a record of \(requested) bytes does not fit in the ring (at most \(capacity))"
        case .ringFull(let requested, let available):
            return "the ring has \(available) free bytes, a record of \(requested) bytes needs more"
        case .systemCall(let call, let map, let errno):
            return "map \(map): \(call): \(errno)"
        case .map(let error):
            return error.description
        case .possibleCPUs(let error):
            return error.description
        case .noOnlineCPUs(let map):
            return "map \(map): perf_event_open failed with ENODEV on every CPU"
        }
    }

    /// Equal when the case and its values are; map errors compare by their description (MapError
    /// itself is not Equatable).
    public static func == (lhs: ReaderError, rhs: ReaderError) -> Bool {
        switch (lhs, rhs) {
        case (.closed, .closed), (.timedOut, .timedOut), (.concurrentRead, .concurrentRead), (.noMaps, .noMaps):
            return true
        case (.wrongMapType(let a, let b, let c), .wrongMapType(let d, let e, let f)):
            return a == d && b == e && c == f
        case (.invalidRingSize(let a, let b), .invalidRingSize(let c, let d)):
            return a == c && b == d
        case (.corruptRecord(let a, let b, let c, let d), .corruptRecord(let e, let f, let g, let h)):
            return a == e && b == f && c == g && d == h
        case (.recordTooLarge(let a, let b), .recordTooLarge(let c, let d)),
            (.ringFull(let a, let b), .ringFull(let c, let d)):
            return a == c && b == d
        case (.systemCall(let a, let b, let c), .systemCall(let d, let e, let f)):
            return a == d && b == e && c == f
        case (.map(let a), .map(let b)):
            return a.description == b.description
        case (.possibleCPUs(let a), .possibleCPUs(let b)):
            return a == b
        case (.noOnlineCPUs(let a), .noOnlineCPUs(let b)):
            return a == b
        default:
            return false
        }
    }
}
