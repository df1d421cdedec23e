import EBPFSys

/// How an update treats an existing element (`flags` of `BPF_MAP_UPDATE_ELEM`).
///
/// ``any``, ``noExist`` and ``exist`` exclude each other; ``lock`` combines with them.
public struct MapUpdateFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    // Computed and inlinable, like swift-system's option sets: the typed map calls take `.any` as
    // their default, and a stored constant would be fetched through its accessor on every call.

    /// `BPF_ANY`: create the element or replace it.
    @inlinable public static var any: MapUpdateFlags { MapUpdateFlags(rawValue: 0) }
    /// `BPF_NOEXIST`: create the element; fail with `EEXIST` if it exists.
    @inlinable public static var noExist: MapUpdateFlags { MapUpdateFlags(rawValue: 1) }
    /// `BPF_EXIST`: replace the element; fail with `ENOENT` if it does not exist. For queues and
    /// stacks: replace the oldest element when full.
    @inlinable public static var exist: MapUpdateFlags { MapUpdateFlags(rawValue: 2) }
    /// `BPF_F_LOCK`: take the value's `bpf_spin_lock` while copying (maps whose value has one).
    @inlinable public static var lock: MapUpdateFlags { MapUpdateFlags(rawValue: 4) }
}

/// How a lookup copies the value out (`flags` of `BPF_MAP_LOOKUP_ELEM`).
public struct MapLookupFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `BPF_F_LOCK`: take the value's `bpf_spin_lock` while copying, so the copy is consistent
    /// with programs that update under the lock (maps whose value type has one, Linux 5.1). The
    /// lock's own bytes read as zero.
    @inlinable public static var lock: MapLookupFlags { MapLookupFlags(rawValue: 4) }
}

extension MapElementCommand {
    var operation: MapError.Operation {
        switch self {
        case .lookup: .lookup
        case .update: .update
        case .delete: .delete
        case .lookupAndDelete: .lookupAndDelete
        }
    }
}

/// What a single-element command came to. The typed API's inlined part turns it into a value,
/// nil or a thrown ``MapError``, which ``Map/elementError(_:_:keyLayout:valueLayout:)`` builds
/// out of line: a call that succeeds or finds no element builds and copies no error value.
@usableFromInline
enum ElementStatus {
    /// The command did what it was asked.
    case done
    /// A lookup, delete or lookup-and-delete found no element (`ENOENT`).
    case absent
    case failed(ElementFailure)
}

/// Why a single-element command failed, small enough to travel in a register.
@usableFromInline
enum ElementFailure {
    /// The map was closed.
    case closed
    /// The Swift key or value type does not fit the map (the error says how).
    case layoutMismatch
    /// The kernel refused the command with this errno (for updates, `ENOENT` too).
    case syscall(Errno)
}

/// The size and stride of a Swift key or value type, which the typed API hands to its
/// non-generic part: C's `sizeof` is one of the two.
@usableFromInline
struct TypedLayout {
    @usableFromInline let size: Int
    @usableFromInline let stride: Int

    @inlinable
    init<T: BitwiseCopyable>(_ type: T.Type) {
        size = MemoryLayout<T>.size
        stride = MemoryLayout<T>.stride
    }
}

/// Whether a typed key and value fit a map, and which of them need zero padding to the map's size.
enum TypedLayoutVerdict {
    case fits(padKey: Bool, padValue: Bool)
    case mismatch(MapError.Reason)
}

// MARK: - The system calls

extension Map {
    /// One element command on raw addresses, without building an error. A map without keys
    /// (queue, stack, bloom filter) gets no key address at all.
    @usableFromInline
    func rawElementCall(
        _ command: MapElementCommand, key: UnsafeRawPointer?, value: UnsafeRawPointer?, flags: UInt64
    ) -> ElementStatus {
        guard let raw = descriptor.beginUse() else {
            return .failed(.closed)
        }
        defer { descriptor.endUse() }
        let failure = Sys.mapElementCall(
            command, mapFD: UInt32(bitPattern: raw), key: keySize == 0 ? nil : key, value: value, flags: flags)
        guard let failure else {
            return .done
        }
        if failure == .noSuchFileOrDirectory, command != .update {
            return .absent
        }
        return .failed(.syscall(failure))
    }

    /// One element command; false when the kernel says the element is absent (`ENOENT`), except
    /// for updates, where that is an error.
    @inline(__always)
    func elementCall(
        _ command: MapElementCommand, key: UnsafeRawPointer?, value: UnsafeRawPointer?, flags: UInt64
    ) throws(MapError) -> Bool {
        switch rawElementCall(command, key: key, value: value, flags: flags) {
        case .done: return true
        case .absent: return false
        case .failed(let failure): throw elementError(command, failure, keyLayout: nil, valueLayout: nil)
        }
    }

    /// The error for a failed element command. `keyLayout` and `valueLayout` are the typed API's
    /// (they say what did not fit for ``ElementFailure/layoutMismatch``).
    @usableFromInline
    @inline(never)
    func elementError(
        _ command: MapElementCommand, _ failure: ElementFailure, keyLayout: TypedLayout?, valueLayout: TypedLayout?
    ) -> MapError {
        let operation = command.operation
        switch failure {
        case .closed:
            return error(operation, .closed)
        case .syscall(let errno):
            return error(operation, .syscall(BPFSyscallError(failedCommand: command.command, errno: errno)))
        case .layoutMismatch:
            guard let keyLayout,
                case .mismatch(let reason) = layoutVerdict(command, keyLayout: keyLayout, valueLayout: valueLayout)
            else {
                // Only the typed API reports a mismatch, and it passes the layouts it checked.
                return error(operation, .keySizeMismatch(given: keyLayout?.size ?? 0, expected: Int(keySize)))
            }
            return error(operation, reason)
        }
    }

    /// Checks that `Key` has the map's key size and runs `body` with its bytes (`keySize` of
    /// them: a type whose stride is the key size is padded with zeros).
    @inline(__always)
    func withKey<Key: BitwiseCopyable, Result>(
        _ key: Key, _ operation: MapError.Operation, _ body: (UnsafeRawPointer?) throws(MapError) -> Result
    ) throws(MapError) -> Result {
        let size = MemoryLayout<Key>.size
        if size == Int(keySize) {
            return try withUnsafeBytes(of: key) { (bytes: UnsafeRawBufferPointer) throws(MapError) -> Result in
                try body(bytes.baseAddress)
            }
        }
        guard MemoryLayout<Key>.stride == Int(keySize) else {
            throw error(operation, .keySizeMismatch(given: size, expected: Int(keySize)))
        }
        return try withPadded(key, byteCount: Int(keySize), operation) { (pointer: UnsafeRawPointer) throws(MapError) in
            try body(pointer)
        }
    }

    /// Runs `body` with `value` copied into `byteCount` zeroed bytes (at least its size).
    @inline(__always)
    func withPadded<Value: BitwiseCopyable, Result>(
        _ value: Value, byteCount: Int, _ operation: MapError.Operation,
        _ body: (UnsafeRawPointer) throws(MapError) -> Result
    ) throws(MapError) -> Result {
        let count = max(byteCount, MemoryLayout<Value>.size, 1)
        return try withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) {
            (buffer: UnsafeMutableRawBufferPointer) throws(MapError) -> Result in
            guard let base = buffer.baseAddress else {
                throw error(operation, .descriptor(.noMemory))
            }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            buffer.storeBytes(of: value, as: Value.self)
            return try body(UnsafeRawPointer(base))
        }
    }

    /// Checks that `Value` has the map's value size (a single value, not per-CPU).
    @inline(__always)
    func checkValueType<Value: BitwiseCopyable>(_ type: Value.Type, _ operation: MapError.Operation) throws(MapError) {
        guard !self.type.isPerCPU else {
            throw error(operation, .requiresPerCPUAccess(self.type))
        }
        try checkValueSize(type, operation)
    }

    @inline(__always)
    func checkValueSize<Value: BitwiseCopyable>(_ type: Value.Type, _ operation: MapError.Operation) throws(MapError) {
        let size = MemoryLayout<Value>.size
        guard size == Int(valueSize) || MemoryLayout<Value>.stride == Int(valueSize) else {
            throw error(operation, .valueSizeMismatch(given: size, expected: Int(valueSize)))
        }
    }

    /// Runs `fill` on a value buffer of ``valueBufferSize`` bytes and, when it reports a value,
    /// reads one `Value` from its start.
    @inline(__always)
    func readValue<Value: BitwiseCopyable>(
        _ type: Value.Type, _ fill: (UnsafeMutableRawPointer) throws(MapError) -> Bool
    ) throws(MapError) -> Value? {
        let byteCount = max(valueBufferSize, MemoryLayout<Value>.stride, 1)
        return try withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: max(MemoryLayout<Value>.alignment, 8)) {
            (buffer: UnsafeMutableRawBufferPointer) throws(MapError) -> Value? in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            guard let base = buffer.baseAddress, try fill(base) else { return nil }
            return base.loadUnaligned(as: Value.self)
        }
    }
}

// MARK: - Typed access

extension Map {
    // The typed element operations are inlinable so that they are specialised for the caller's
    // key and value types: unspecialised generic code looks up type metadata on every call,
    // which costs as much as the system call itself. What they do beyond taking the bytes of
    // their arguments is in one non-generic function, ``typedElementCall``.

    /// The value stored under `key`, nil when there is none (`BPF_MAP_LOOKUP_ELEM`).
    ///
    /// `Key` and `Value` must have the map's key and value sizes (their size, or their stride
    /// when that is what C's `sizeof` gives).
    @inlinable
    public func lookup<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ key: Key, as type: Value.Type = Value.self, flags: MapLookupFlags = []
    ) throws(MapError) -> Value? {
        try typedRead(.lookup, key, as: type, flags: flags.rawValue)
    }

    /// Stores `value` under `key` (`BPF_MAP_UPDATE_ELEM`).
    @inlinable
    public func update<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ key: Key, _ value: Value, flags: MapUpdateFlags = .any
    ) throws(MapError) {
        let status = withUnsafeBytes(of: key) { (keyBytes: UnsafeRawBufferPointer) -> ElementStatus in
            withUnsafeBytes(of: value) { (valueBytes: UnsafeRawBufferPointer) -> ElementStatus in
                typedElementCall(
                    .update, key: keyBytes.baseAddress, keyLayout: TypedLayout(Key.self),
                    value: valueBytes.baseAddress, valueLayout: TypedLayout(Value.self), flags: flags.rawValue)
            }
        }
        guard case .failed(let failure) = status else { return }
        throw elementError(.update, failure, keyLayout: TypedLayout(Key.self), valueLayout: TypedLayout(Value.self))
    }

    /// Removes `key`; false when it was not there (`BPF_MAP_DELETE_ELEM`).
    @inlinable
    @discardableResult
    public func delete<Key: BitwiseCopyable>(_ key: Key) throws(MapError) -> Bool {
        let status = withUnsafeBytes(of: key) { (keyBytes: UnsafeRawBufferPointer) -> ElementStatus in
            typedElementCall(
                .delete, key: keyBytes.baseAddress, keyLayout: TypedLayout(Key.self), value: nil, valueLayout: nil,
                flags: 0)
        }
        switch status {
        case .done: return true
        case .absent: return false
        case .failed(let failure): throw elementError(.delete, failure, keyLayout: TypedLayout(Key.self), valueLayout: nil)
        }
    }

    /// The value stored under `key`, which is removed; nil when there is none
    /// (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`; hash maps need Linux 5.14).
    @inlinable
    public func lookupAndDelete<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ key: Key, as type: Value.Type = Value.self
    ) throws(MapError) -> Value? {
        try typedRead(.lookupAndDelete, key, as: type)
    }

    /// A command that reads one value for `key` (lookup, lookup-and-delete) into a `Value`. The
    /// closures throw nothing: an error thrown through `withUnsafeTemporaryAllocation` is carried
    /// out in a `Result` the size of ``MapError``, copied on every call, also when nothing failed.
    @inlinable
    func typedRead<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ command: MapElementCommand, _ key: Key, as type: Value.Type, flags: UInt64 = 0
    ) throws(MapError) -> Value? {
        let (status, value) = withUnsafeBytes(of: key) { (keyBytes: UnsafeRawBufferPointer) -> (ElementStatus, Value?) in
            withUnsafeTemporaryAllocation(byteCount: MemoryLayout<Value>.stride, alignment: MemoryLayout<Value>.alignment) {
                (valueBytes: UnsafeMutableRawBufferPointer) -> (ElementStatus, Value?) in
                let status = typedElementCall(
                    command, key: keyBytes.baseAddress, keyLayout: TypedLayout(Key.self),
                    value: valueBytes.baseAddress, valueLayout: TypedLayout(Value.self), flags: flags)
                guard case .done = status else { return (status, nil) }
                return (status, valueBytes.loadUnaligned(as: Value.self))
            }
        }
        switch status {
        case .done: return value
        case .absent: return nil
        case .failed(let failure):
            throw elementError(command, failure, keyLayout: TypedLayout(Key.self), valueLayout: TypedLayout(Value.self))
        }
    }

    /// One element command for the typed API: checks the Swift types' layouts against the map,
    /// pads a key or value whose stride (not size) is the map's size with zeros, and makes the
    /// call. `value` points to at least `valueLayout.stride` bytes.
    ///
    /// Inlined into the caller, where the layouts are constants: the common case, both types of
    /// exactly the map's sizes, is two comparisons and one call.
    @inlinable
    @inline(__always)
    func typedElementCall(
        _ command: MapElementCommand, key: UnsafeRawPointer?, keyLayout: TypedLayout, value: UnsafeRawPointer?,
        valueLayout: TypedLayout?, flags: UInt64
    ) -> ElementStatus {
        // A per-CPU map's ``typedValueSize`` matches no type.
        if keyLayout.size == Int(keySize), valueLayout.map({ $0.size == typedValueSize }) ?? true {
            return rawElementCall(command, key: key, value: value, flags: flags)
        }
        return paddedElementCall(command, key: key, keyLayout: keyLayout, value: value, valueLayout: valueLayout, flags: flags)
    }

    /// ``typedElementCall(_:key:keyLayout:value:valueLayout:flags:)`` for types whose size is not
    /// the map's: checks them and pads what needs padding.
    @usableFromInline
    @inline(never)
    func paddedElementCall(
        _ command: MapElementCommand, key: UnsafeRawPointer?, keyLayout: TypedLayout, value: UnsafeRawPointer?,
        valueLayout: TypedLayout?, flags: UInt64
    ) -> ElementStatus {
        guard case .fits(let padKey, let padValue) = layoutVerdict(command, keyLayout: keyLayout, valueLayout: valueLayout)
        else {
            return .failed(.layoutMismatch)
        }
        return Map.withZeroPadded(key, size: keyLayout.size, to: Int(keySize), padKey) { (paddedKey: UnsafeRawPointer?) in
            Map.withZeroPadded(value, size: valueLayout?.size ?? 0, to: Int(valueSize), padValue) {
                (paddedValue: UnsafeRawPointer?) in
                rawElementCall(command, key: paddedKey, value: paddedValue, flags: flags)
            }
        }
    }

    /// Whether the typed API's key and value types fit the map: each must have the map's size
    /// as its size or its stride, and a single value does not fit a per-CPU map. Only an update
    /// reads the value; the other commands write `valueSize` bytes, which fit in the stride the
    /// caller provides.
    func layoutVerdict(
        _ command: MapElementCommand, keyLayout: TypedLayout, valueLayout: TypedLayout?
    ) -> TypedLayoutVerdict {
        var padValue = false
        if let valueLayout {
            guard !type.isPerCPU else {
                return .mismatch(.requiresPerCPUAccess(type))
            }
            guard valueLayout.size == Int(valueSize) || valueLayout.stride == Int(valueSize) else {
                return .mismatch(.valueSizeMismatch(given: valueLayout.size, expected: Int(valueSize)))
            }
            padValue = command == .update && valueLayout.size != Int(valueSize)
        }
        var padKey = false
        if keyLayout.size != Int(keySize) {
            guard keyLayout.stride == Int(keySize) else {
                return .mismatch(.keySizeMismatch(given: keyLayout.size, expected: Int(keySize)))
            }
            padKey = true
        }
        return .fits(padKey: padKey, padValue: padValue)
    }

    /// Runs `body` with `size` bytes at `bytes` followed by zeros up to `byteCount` when `pad`,
    /// else with `bytes` itself.
    private static func withZeroPadded<Result>(
        _ bytes: UnsafeRawPointer?, size: Int, to byteCount: Int, _ pad: Bool, _ body: (UnsafeRawPointer?) -> Result
    ) -> Result {
        guard pad, let bytes else { return body(bytes) }
        return withUnsafeTemporaryAllocation(byteCount: max(byteCount, size, 1), alignment: 8) {
            (buffer: UnsafeMutableRawBufferPointer) -> Result in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            buffer.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: size))
            return body(UnsafeRawPointer(buffer.baseAddress))
        }
    }

    @inline(__always)
    func withValue<Value: BitwiseCopyable, Result>(
        _ value: Value, _ operation: MapError.Operation, _ body: (UnsafeRawPointer?) throws(MapError) -> Result
    ) throws(MapError) -> Result {
        if MemoryLayout<Value>.size == Int(valueSize) {
            return try withUnsafeBytes(of: value) { (bytes: UnsafeRawBufferPointer) throws(MapError) -> Result in
                try body(bytes.baseAddress)
            }
        }
        return try withPadded(value, byteCount: Int(valueSize), operation) { (pointer: UnsafeRawPointer) throws(MapError) in
            try body(pointer)
        }
    }

    // MARK: Queues and stacks

    /// Adds `value` to a queue or stack (an update without key). With ``MapUpdateFlags/exist`` a
    /// full map drops its oldest element instead of failing.
    public func push<Value: BitwiseCopyable>(_ value: Value, flags: MapUpdateFlags = .any) throws(MapError) {
        try checkValueType(Value.self, .update)
        try withValue(value, .update) { (valuePointer: UnsafeRawPointer?) throws(MapError) in
            _ = try elementCall(.update, key: nil, value: valuePointer, flags: flags.rawValue)
        }
    }

    /// Removes and returns the next element of a queue (oldest) or stack (newest); nil when empty.
    public func pop<Value: BitwiseCopyable>(as type: Value.Type = Value.self) throws(MapError) -> Value? {
        try checkValueType(Value.self, .lookupAndDelete)
        return try readValue(Value.self) { (valuePointer: UnsafeMutableRawPointer) throws(MapError) -> Bool in
            try elementCall(.lookupAndDelete, key: nil, value: valuePointer, flags: 0)
        }
    }

    /// The element ``pop(as:)`` would return, left in place; nil when empty.
    public func peek<Value: BitwiseCopyable>(as type: Value.Type = Value.self) throws(MapError) -> Value? {
        try checkValueType(Value.self, .lookup)
        return try readValue(Value.self) { (valuePointer: UnsafeMutableRawPointer) throws(MapError) -> Bool in
            try elementCall(.lookup, key: nil, value: valuePointer, flags: 0)
        }
    }

    // MARK: Maps of maps and program arrays

    /// Stores `map` under `key` of an array or hash of maps. The kernel keeps a reference to the
    /// inner map; `map` may be closed afterwards.
    public func update<Key: BitwiseCopyable>(_ key: Key, map: Map, flags: MapUpdateFlags = .any) throws(MapError) {
        try map.withRawDescriptor(.update) { (inner: UInt32) throws(MapError) in
            try update(key, inner, flags: flags)
        }
    }

    /// Stores `program` under `key` of a program array, for tail calls.
    public func update<Key: BitwiseCopyable>(_ key: Key, program: Program, flags: MapUpdateFlags = .any) throws(MapError) {
        try program.descriptor.borrow(orThrow: { error(.update, .closed) }) { (raw: Int32) throws(MapError) in
            try update(key, UInt32(bitPattern: raw), flags: flags)
        }
    }

    /// The ID of the map or program stored under `key` of a map of maps or program array, nil
    /// when the slot is empty. Open it with ``Map/init(id:)`` or ``Program/init(id:)``.
    public func lookupObjectID<Key: BitwiseCopyable>(_ key: Key) throws(MapError) -> UInt32? {
        try lookup(key, as: UInt32.self)
    }

    // MARK: Per-CPU maps

    /// The values stored under `key` of a per-CPU map, one per possible CPU; nil when absent.
    public func lookupPerCPU<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ key: Key, as type: Value.Type = Value.self
    ) throws(MapError) -> [Value]? {
        try checkPerCPU(Value.self, .lookup)
        return try withKey(key, .lookup) { (keyPointer: UnsafeRawPointer?) throws(MapError) -> [Value]? in
            try withUnsafeTemporaryAllocation(byteCount: max(valueBufferSize, 1), alignment: 8) {
                (buffer: UnsafeMutableRawBufferPointer) throws(MapError) -> [Value]? in
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                guard let base = buffer.baseAddress,
                    try elementCall(.lookup, key: keyPointer, value: base, flags: 0)
                else { return nil }
                return perCPUValues(UnsafeRawBufferPointer(buffer), as: Value.self)
            }
        }
    }

    /// Stores one value per possible CPU under `key` of a per-CPU map.
    public func updatePerCPU<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ key: Key, _ values: [Value], flags: MapUpdateFlags = .any
    ) throws(MapError) {
        try checkPerCPU(Value.self, .update)
        guard values.count == valueCopies else {
            throw error(.update, .perCPUValueCountMismatch(given: values.count, possibleCPUs: valueCopies))
        }
        try withKey(key, .update) { (keyPointer: UnsafeRawPointer?) throws(MapError) in
            try withUnsafeTemporaryAllocation(byteCount: max(valueBufferSize, 1), alignment: 8) {
                (buffer: UnsafeMutableRawBufferPointer) throws(MapError) in
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                storePerCPUValues(values, into: buffer)
                _ = try elementCall(.update, key: keyPointer, value: buffer.baseAddress, flags: flags.rawValue)
            }
        }
    }

    /// The distance between two CPUs' values in a per-CPU value buffer.
    var perCPUSlotSize: Int {
        (Int(valueSize) + 7) & ~7
    }

    func checkPerCPU<Value: BitwiseCopyable>(_ type: Value.Type, _ operation: MapError.Operation) throws(MapError) {
        guard self.type.isPerCPU else {
            throw error(operation, .notPerCPU(self.type))
        }
        try checkValueSize(type, operation)
    }

    func perCPUValues<Value: BitwiseCopyable>(_ buffer: UnsafeRawBufferPointer, as type: Value.Type) -> [Value] {
        let slot = perCPUSlotSize
        var values: [Value] = []
        values.reserveCapacity(valueCopies)
        for cpu in 0..<valueCopies {
            let offset = cpu * slot
            guard offset + MemoryLayout<Value>.size <= buffer.count else { break }
            values.append(buffer.loadUnaligned(fromByteOffset: offset, as: Value.self))
        }
        return values
    }

    func storePerCPUValues<Value: BitwiseCopyable>(_ values: [Value], into buffer: UnsafeMutableRawBufferPointer) {
        let slot = perCPUSlotSize
        for (cpu, value) in values.enumerated() {
            let offset = cpu * slot
            guard offset + MemoryLayout<Value>.size <= buffer.count else { break }
            buffer.storeBytes(of: value, toByteOffset: offset, as: Value.self)
        }
    }
}
