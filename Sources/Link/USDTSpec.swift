import EBPFCollection
import Synchronization

/// The two maps through which a program built with libbpf's `<bpf/usdt.bpf.h>` (1.1) finds the
/// arguments of the probe that fired: `__bpf_usdt_specs` (spec id to argument spec) and
/// `__bpf_usdt_ip_to_spec_id` (instruction pointer to spec id, for kernels without BPF cookies).
public struct USDTSpecMaps: Sendable {
    /// `__bpf_usdt_specs`: an array of `struct __bpf_usdt_spec`.
    public var specs: Map
    /// `__bpf_usdt_ip_to_spec_id`: a hash from `long` to `__u32`, nil when the object has none
    /// (then the cookie path is the only one).
    public var instructionPointers: Map?

    public static let specsMapName = "__bpf_usdt_specs"
    public static let instructionPointersMapName = "__bpf_usdt_ip_to_spec_id"

    /// The size of `struct __bpf_usdt_spec`: 12 argument specs of 16 bytes, the user's cookie, the
    /// argument count, padding to 8.
    public static let specSize = 208

    public init(specs: Map, instructionPointers: Map?) throws(USDTError) {
        guard specs.keySize == 4, specs.valueSize == UInt32(Self.specSize), specs.type == .array else {
            throw .badSpecMap(
                name: specs.name,
                reason: "expected an array of \(Self.specSize)-byte values under 4-byte keys (libbpf 1.1's struct __bpf_usdt_spec), found \(specs.type) with key \(specs.keySize) and value \(specs.valueSize) bytes")
        }
        if let map = instructionPointers, map.keySize != 8 || map.valueSize != 4 {
            throw .badSpecMap(
                name: map.name, reason: "expected 8-byte keys and 4-byte values, found \(map.keySize) and \(map.valueSize)")
        }
        self.specs = specs
        self.instructionPointers = instructionPointers
    }

    /// The maps of a loaded collection, found by the names `usdt.bpf.h` gives them.
    public init(collection: LoadedCollection) throws(USDTError) {
        guard let specs = collection.maps[Self.specsMapName] else {
            throw .badSpecMap(
                name: Self.specsMapName, reason: "the collection has no such map (does the program include usdt.bpf.h?)")
        }
        try self.init(specs: specs, instructionPointers: collection.maps[Self.instructionPointersMapName])
    }

    /// Encodes a `struct __bpf_usdt_spec` in host byte order: per argument `val_off` (u64),
    /// `arg_type` (u32: constant 0, register 1, register dereference 2), `reg_off` (s16),
    /// `arg_signed` (u8), `arg_bitshift` (u8: 64 minus the argument's bits); then `usdt_cookie`
    /// (u64) at 192 and `arg_cnt` (s16) at 200.
    public static func encode(arguments: [USDTArgument], cookie: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: specSize)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            withUnsafeBytes(of: value) { raw in
                for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
            }
        }
        for (index, argument) in arguments.prefix(USDTArgument.maximumCount).enumerated() {
            let base = index * 16
            let valueOrOffset: UInt64, kind: UInt32, register: Int16
            switch argument.location {
            case .constant(let value): (valueOrOffset, kind, register) = (UInt64(bitPattern: value), 0, 0)
            case .register(_, let offset): (valueOrOffset, kind, register) = (0, 1, offset)
            case .memory(_, let offset, let displacement): (valueOrOffset, kind, register) = (UInt64(bitPattern: displacement), 2, offset)
            }
            put(valueOrOffset, at: base)
            put(kind, at: base + 8)
            put(register, at: base + 12)
            bytes[base + 14] = argument.isSigned ? 1 : 0
            bytes[base + 15] = UInt8(64 - argument.size * 8)
        }
        put(cookie, at: 192)
        put(Int16(min(arguments.count, USDTArgument.maximumCount)), at: 200)
        return bytes
    }
}

/// Spec ids in use, per specs map (by kernel map id), shared by every USDT attachment of the
/// process so that two attachments through one object never overwrite each other's specs.
enum USDTSpecIDs {
    private static let used = Mutex<[UInt32: Set<UInt32>]>([:])

    /// `count` free ids below `capacity`, marked used; nil when there are not enough.
    static func allocate(_ count: Int, map: UInt32, capacity: UInt32) -> [UInt32]? {
        used.withLock { table in
            var taken = table[map, default: []]
            var ids: [UInt32] = []
            var candidate: UInt32 = 0
            while ids.count < count, candidate < capacity {
                if !taken.contains(candidate) { ids.append(candidate) }
                candidate += 1
            }
            guard ids.count == count else { return nil }
            taken.formUnion(ids)
            table[map] = taken
            return ids
        }
    }

    static func release(_ ids: [UInt32], map: UInt32) {
        used.withLock { table in
            table[map]?.subtract(ids)
            if table[map]?.isEmpty == true { table[map] = nil }
        }
    }
}
