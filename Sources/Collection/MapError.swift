import EBPFSys

/// A map operation that failed: which map, which operation, and why.
///
/// `description` reads like `update map counts: key size 4, map expects 8`.
public struct MapError: Error, CustomStringConvertible, Sendable {
    /// The map's name (the full name from its spec, or the kernel's name for an opened map).
    public var mapName: String
    public var operation: Operation
    public var reason: Reason

    public init(mapName: String, operation: Operation, reason: Reason) {
        self.mapName = mapName
        self.operation = operation
        self.reason = reason
    }

    /// What was being done to the map.
    public enum Operation: String, Sendable, Hashable {
        case create, open, lookup, update, delete
        case lookupAndDelete = "lookup and delete"
        case nextKey = "get next key of"
        case iterate
        case lookupBatch = "batch lookup"
        case lookupAndDeleteBatch = "batch lookup and delete"
        case updateBatch = "batch update"
        case deleteBatch = "batch delete"
        case freeze, pin, unpin, close, clone
        case info = "get info of"
        case memoryMap = "memory-map"
    }

    /// Why it failed.
    public enum Reason: Sendable {
        /// The key type or byte count differs from the map's key size.
        case keySizeMismatch(given: Int, expected: Int)
        /// The value type or byte count differs from the map's value size.
        case valueSizeMismatch(given: Int, expected: Int)
        /// A per-CPU update got a number of values other than the number of possible CPUs.
        case perCPUValueCountMismatch(given: Int, possibleCPUs: Int)
        /// Keys and values of a batch differ in number.
        case batchCountMismatch(keys: Int, values: Int)
        /// The map holds one value per CPU; the per-CPU methods (or the raw-bytes ones) read it.
        case requiresPerCPUAccess(MapType)
        /// A per-CPU method was called on a map that holds one value.
        case notPerCPU(MapType)
        /// The map's name is one the kernel refuses.
        case invalidName(BPFObjectNameError)
        /// A map-in-map spec without an inner map template.
        case missingInnerMap(MapType)
        /// A contents entry names a program or map, which only a collection load can resolve.
        case unresolvedContentsReference(name: String, entryIndex: Int)
        /// Iteration gave up: the map changed under it more often than it has entries.
        case iterationAborted(afterKeys: Int)
        /// The number of possible CPUs could not be read.
        case possibleCPUs(PossibleCPUsError)
        /// The map was closed before the operation.
        case closed
        /// Only arrays created with ``MapFlags/mmapable`` can be memory-mapped.
        case notMemoryMappable(MapType, MapFlags)
        /// `mmap` failed.
        case memoryMapFailed(Errno)
        /// The arena's mapping is smaller than the `__arena` globals to copy into it.
        case arenaTooSmall(needed: Int, available: Int)
        /// Removing the pin file failed.
        case unlinkFailed(path: String, errno: Errno)
        /// Duplicating or closing the descriptor failed.
        case descriptor(Errno)
        /// The kernel refused the operation.
        case syscall(BPFSyscallError)
    }

    /// The kernel's error, when the kernel refused the operation.
    public var syscallError: BPFSyscallError? {
        if case .syscall(let error) = reason { return error }
        return nil
    }

    public var description: String {
        "\(operation.rawValue) map \(mapName): \(reason)"
    }
}

extension MapError.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .keySizeMismatch(let given, let expected):
            return "key size \(given), map expects \(expected)"
        case .valueSizeMismatch(let given, let expected):
            return "value size \(given), map expects \(expected)"
        case .perCPUValueCountMismatch(let given, let cpus):
            return "\(given) per-CPU values, the machine has \(cpus) possible CPUs"
        case .batchCountMismatch(let keys, let values):
            return "\(keys) keys but \(values) values"
        case .requiresPerCPUAccess(let type):
            return "\(type) holds one value per possible CPU; use the per-CPU methods"
        case .notPerCPU(let type):
            return "\(type) holds a single value, not one per CPU"
        case .invalidName(let error):
            return "\(error)"
        case .missingInnerMap(let type):
            return "\(type) needs an inner map template (MapSpec.innerMap)"
        case .unresolvedContentsReference(let name, let index):
            return "contents entry \(index) refers to \(name), which only loading a collection can resolve"
        case .iterationAborted(let count):
            return "iteration aborted after \(count) keys: the map kept changing under the iterator"
        case .possibleCPUs(let error):
            return "\(error)"
        case .closed:
            return "the map is closed"
        case .notMemoryMappable(let type, let flags):
            return "\(type) with flags 0x\(String(flags.rawValue, radix: 16)) cannot be memory-mapped; create an array with BPF_F_MMAPABLE"
        case .memoryMapFailed(let errno):
            return "mmap: \(errno)"
        case .arenaTooSmall(let needed, let available):
            return "the arena's \(available) bytes cannot hold \(needed) bytes of __arena globals"
        case .unlinkFailed(let path, let errno):
            return "removing \(path): \(errno)"
        case .descriptor(let errno):
            return "\(errno)"
        case .syscall(let error):
            return "\(error)"
        }
    }
}
