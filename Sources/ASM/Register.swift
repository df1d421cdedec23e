/// An eBPF register, `r0` to `r10`.
///
/// The raw value is the four-bit register number of the encoding; values above 10 are
/// representable (so that any decoded or hand-written field can be held) but invalid.
public struct Register: RawRepresentable, Hashable, Sendable, Comparable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static func < (lhs: Register, rhs: Register) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// The return value, and the helper's return value after a call. The kernel's `BPF_REG_0`.
    public static let r0 = Register(rawValue: 0)
    /// The first argument; the context on entry. The kernel's `BPF_REG_1`.
    public static let r1 = Register(rawValue: 1)
    /// The kernel's `BPF_REG_2`.
    public static let r2 = Register(rawValue: 2)
    /// The kernel's `BPF_REG_3`.
    public static let r3 = Register(rawValue: 3)
    /// The kernel's `BPF_REG_4`.
    public static let r4 = Register(rawValue: 4)
    /// The last argument register. The kernel's `BPF_REG_5`.
    public static let r5 = Register(rawValue: 5)
    /// The first callee-saved register. The kernel's `BPF_REG_6`.
    public static let r6 = Register(rawValue: 6)
    /// The kernel's `BPF_REG_7`.
    public static let r7 = Register(rawValue: 7)
    /// The kernel's `BPF_REG_8`.
    public static let r8 = Register(rawValue: 8)
    /// The kernel's `BPF_REG_9`.
    public static let r9 = Register(rawValue: 9)
    /// The read-only frame pointer. The kernel's `BPF_REG_10`.
    public static let r10 = Register(rawValue: 10)
    /// The read-only frame pointer, ``r10``. The kernel's `BPF_REG_FP`.
    public static let framePointer = r10

    /// Whether the number names one of the eleven registers.
    public var isValid: Bool {
        rawValue <= 10
    }
}

extension Register: CustomStringConvertible {
    /// The 64-bit name, `r0` to `r10`.
    public var description: String {
        "r\(rawValue)"
    }

    /// The name of the lower 32 bits, `w0` to `w10`.
    public var name32: String {
        "w\(rawValue)"
    }
}
