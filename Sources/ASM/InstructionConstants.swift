/// The operation of an atomic instruction (`BPF_STX | BPF_ATOMIC`), held in its immediate.
public struct AtomicOperation: RawRepresentable, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `lock *(size *)(dst + off) += src`. The kernel's `BPF_ADD`.
    public static let add = AtomicOperation(rawValue: 0x00)
    /// The kernel's `BPF_OR`.
    public static let or = AtomicOperation(rawValue: 0x40)
    /// The kernel's `BPF_AND`.
    public static let and = AtomicOperation(rawValue: 0x50)
    /// The kernel's `BPF_XOR`.
    public static let xor = AtomicOperation(rawValue: 0xa0)
    /// The modifier that returns the old value in the source register. The kernel's `BPF_FETCH`.
    public static let fetchFlag: Int32 = 0x01
    /// `src = atomic_fetch_add(dst + off, src)`. `BPF_ADD | BPF_FETCH`.
    public static let fetchAdd = AtomicOperation(rawValue: 0x01)
    /// `BPF_OR | BPF_FETCH`.
    public static let fetchOr = AtomicOperation(rawValue: 0x41)
    /// `BPF_AND | BPF_FETCH`.
    public static let fetchAnd = AtomicOperation(rawValue: 0x51)
    /// `BPF_XOR | BPF_FETCH`.
    public static let fetchXor = AtomicOperation(rawValue: 0xa1)
    /// Exchange. The kernel's `BPF_XCHG` (`0xe0 | BPF_FETCH`).
    public static let exchange = AtomicOperation(rawValue: 0xe1)
    /// Compare with `r0` and exchange; the old value lands in `r0`. The kernel's `BPF_CMPXCHG`
    /// (`0xf0 | BPF_FETCH`).
    public static let compareExchange = AtomicOperation(rawValue: 0xf1)
    /// Load with acquire semantics: `dst = *(src + off)`, the operands placed as for `BPF_LDX`.
    /// The kernel's `BPF_LOAD_ACQ`. Requires Linux 6.15.
    public static let loadAcquire = AtomicOperation(rawValue: 0x100)
    /// Store with release semantics. The kernel's `BPF_STORE_REL`. Requires Linux 6.15.
    public static let storeRelease = AtomicOperation(rawValue: 0x110)

    /// Every operation the instruction set defines.
    public static let allCases: [AtomicOperation] = [
        .add, .or, .and, .xor, .fetchAdd, .fetchOr, .fetchAnd, .fetchXor,
        .exchange, .compareExchange, .loadAcquire, .storeRelease,
    ]

    /// Whether the instruction set defines this operation for the given access size.
    ///
    /// Read-modify-write operations exist for words and double words; load-acquire and
    /// store-release exist for every size.
    public func isDefined(for size: AccessSize) -> Bool {
        switch self {
        case .loadAcquire, .storeRelease:
            true
        case .add, .or, .and, .xor, .fetchAdd, .fetchOr, .fetchAnd, .fetchXor, .exchange, .compareExchange:
            size == .word || size == .doubleWord
        default:
            false
        }
    }
}

/// What the 64-bit immediate of a `lddw` means, held in its source register field.
public struct LoadImmediateSource: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A plain 64-bit value.
    public static let value = LoadImmediateSource(rawValue: 0)
    /// The immediate is a map file descriptor; the kernel loads the map's address.
    /// The kernel's `BPF_PSEUDO_MAP_FD`.
    public static let mapFileDescriptor = LoadImmediateSource(rawValue: 1)
    /// The low half is a map file descriptor, the high half an offset into its value.
    /// The kernel's `BPF_PSEUDO_MAP_VALUE`.
    public static let mapValue = LoadImmediateSource(rawValue: 2)
    /// The low half is the BTF id of a kernel variable. The kernel's `BPF_PSEUDO_BTF_ID`.
    public static let btfID = LoadImmediateSource(rawValue: 3)
    /// The low half is the offset, in instruction slots, of a subprogram whose address is loaded.
    /// The kernel's `BPF_PSEUDO_FUNC`.
    public static let function = LoadImmediateSource(rawValue: 4)
    /// The immediate is an index into the `fd_array` passed at load. The kernel's `BPF_PSEUDO_MAP_IDX`.
    public static let mapIndex = LoadImmediateSource(rawValue: 5)
    /// The low half indexes `fd_array`, the high half is an offset into the value.
    /// The kernel's `BPF_PSEUDO_MAP_IDX_VALUE`.
    public static let mapIndexValue = LoadImmediateSource(rawValue: 6)

    /// Whether the instruction set defines this source.
    public var isDefined: Bool {
        rawValue <= 6
    }
}

/// What a call instruction calls, held in its source register field.
public struct CallKind: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A helper function; the immediate is its id.
    public static let helper = CallKind(rawValue: 0)
    /// A BPF subprogram; the immediate is its offset in instruction slots.
    /// The kernel's `BPF_PSEUDO_CALL`.
    public static let subprogram = CallKind(rawValue: 1)
    /// A kernel function; the immediate is its BTF id and the offset selects the module BTF.
    /// The kernel's `BPF_PSEUDO_KFUNC_CALL`.
    public static let kernelFunction = CallKind(rawValue: 2)

    /// Whether the instruction set defines this kind.
    public var isDefined: Bool {
        rawValue <= 2
    }
}

/// The width of a byte order conversion or byte swap, held in the immediate.
public enum ByteSwapWidth: Int32, Hashable, Sendable, CaseIterable {
    case bits16 = 16
    case bits32 = 32
    case bits64 = 64
}
