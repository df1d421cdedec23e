import EBPFCollection
import EBPFSys
import Testing
import TestSupport

/// The value of ``SpinLockLookupTests``'s map: `struct locked { struct bpf_spin_lock lock; int value; }`.
struct LockedValue: BitwiseCopyable, Equatable {
    var lock: UInt32
    var value: Int32
}

/// `BPF_F_LOCK` lookups and updates on a map whose value type holds a `bpf_spin_lock`.
@Suite("BPF_F_LOCK lookups", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct SpinLockLookupTests {
    /// BTF for [1] `int`, [2] `struct bpf_spin_lock { int val; }`, [3] `struct locked`.
    static var lockedValueBTF: [UInt8] {
        var types: [UInt32] = []
        types += [1, 1 << 24, 4, 0x0100_0020]  // [1] INT "int", signed, 32 bits
        types += [5, 4 << 24 | 1, 4, 19, 1, 0]  // [2] STRUCT "bpf_spin_lock" { int val; }
        types += [23, 4 << 24 | 2, 8, 30, 2, 0, 35, 1, 32]  // [3] STRUCT "locked" { lock; value at bit 32 }
        let strings = Array("\0int\0bpf_spin_lock\0val\0locked\0lock\0value\0".utf8)
        let typeBytes = types.flatMap { value in withUnsafeBytes(of: value) { Array($0) } }
        var blob: [UInt8] = [0x9f, 0xeb, 1, 0]
        for value in [UInt32(24), 0, UInt32(typeBytes.count), UInt32(typeBytes.count), UInt32(strings.count)] {
            blob += withUnsafeBytes(of: value) { Array($0) }
        }
        return blob + typeBytes + strings
    }

    static func lockedMap(btf: borrowing FileDescriptor) throws -> Map {
        var attributes = MapCreateAttr()
        attributes.mapType = MapType.array.rawValue
        attributes.keySize = 4
        attributes.valueSize = 8
        attributes.maxEntries = 1
        attributes.btfFD = UInt32(bitPattern: btf.rawValue)
        attributes.btfKeyTypeID = 1
        attributes.btfValueTypeID = 3
        return try Map(adopting: Sys.mapCreate(attributes))
    }

    @Test func lockedUpdateAndLookupCopyTheValue() throws {
        let btf = try Sys.loadBTF(Self.lockedValueBTF)
        let map = try Self.lockedMap(btf: btf)
        try map.update(UInt32(0), LockedValue(lock: 0, value: 42), flags: .lock)
        #expect(try map.lookup(UInt32(0), as: LockedValue.self, flags: .lock) == LockedValue(lock: 0, value: 42))
        let bytes = try #require(try map.lookup(keyBytes: [0, 0, 0, 0], flags: .lock))
        #expect(bytes == withUnsafeBytes(of: LockedValue(lock: 0, value: 42)) { Array($0) })
    }

    /// A value without a spin lock cannot be read under one: EINVAL, named.
    @Test func aValueWithoutALockIsRefused() throws {
        let map = try Map(spec: MapSpec(name: "unlocked", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        let error = #expect(throws: MapError.self) { try map.lookup(UInt32(0), as: UInt64.self, flags: .lock) }
        guard case .syscall(let cause)? = error?.reason else {
            Issue.record("expected the kernel's refusal, got \(String(describing: error))")
            return
        }
        #expect(cause.errno == .invalidArgument)
    }
}
