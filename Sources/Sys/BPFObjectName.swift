/// The name of a map or program as the kernel stores it: up to 15 characters from
/// `[A-Za-z0-9_.]`, NUL-padded to 16 bytes (the kernel's `BPF_OBJ_NAME_LEN`).
///
/// ```swift
/// let name = try BPFObjectName("counter_map")
/// ```
public struct BPFObjectName: Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
    /// The bytes as they sit in attribute and info structs. A tuple of bytes so the struct has
    /// alignment 1, as the kernel's `char[16]` does.
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                       UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    /// The longest name the kernel keeps (16 bytes including the terminating NUL).
    public static let maximumLength = 15

    /// The empty name (all zero bytes), which the kernel treats as "no name".
    public init() {
        bytes = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// Validates `name` and stores it.
    /// - Throws: ``BPFObjectNameError`` naming the problem and where it is.
    public init(_ name: String) throws(BPFObjectNameError) {
        let utf8 = Array(name.utf8)
        guard utf8.count <= BPFObjectName.maximumLength else {
            throw .tooLong(name: name, length: utf8.count)
        }
        for (offset, byte) in utf8.enumerated() where !BPFObjectName.isAllowed(byte) {
            throw .invalidCharacter(name: name, offset: offset)
        }
        self.init()
        withUnsafeMutableBytes(of: &bytes) { storage in
            for (index, byte) in utf8.enumerated() {
                storage[index] = byte
            }
        }
    }

    /// Reads a name from the kernel's 16 bytes, stopping at the first NUL. Does not validate: the
    /// kernel may report names this library would not have accepted (older kernels allowed more).
    public init(kernelBytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                              UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        bytes = kernelBytes
    }

    /// The name as text (bytes up to the first NUL).
    public var string: String {
        withUnsafeBytes(of: bytes) { storage in
            let length = storage.firstIndex(of: 0) ?? storage.count
            return String(decoding: storage[..<length], as: UTF8.self)
        }
    }

    public var isEmpty: Bool {
        bytes.0 == 0
    }

    public var description: String {
        string
    }

    public static func == (lhs: BPFObjectName, rhs: BPFObjectName) -> Bool {
        withUnsafeBytes(of: lhs.bytes) { left in
            withUnsafeBytes(of: rhs.bytes) { right in left.elementsEqual(right) }
        }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: bytes) { hasher.combine(bytes: $0) }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}

/// A map or program name the kernel would refuse.
public enum BPFObjectNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name has more than 15 bytes.
    case tooLong(name: String, length: Int)
    /// The byte at `offset` (in UTF-8) is not one of `[A-Za-z0-9_.]`.
    case invalidCharacter(name: String, offset: Int)

    public var description: String {
        switch self {
        case .tooLong(let name, let length):
            return "object name \"\(name)\" is \(length) bytes long; the kernel keeps at most "
                + "\(BPFObjectName.maximumLength)"
        case .invalidCharacter(let name, let offset):
            return "object name \"\(name)\" has a character other than [A-Za-z0-9_.] at byte \(offset)"
        }
    }
}
