import Glibc

/// One type record read in place from a spec's blob: the C printer walks these instead of a decoded
/// `BTFTypeGraph`, so printing vmlinux allocates nothing per type, member or name.
///
/// Word `n` is the record's `n`th 32-bit word: 0 the name offset, 1 the info word, 2 the size or
/// referenced type, then the kind's trailing words. Void (id 0) has no record and reads as zeros.
struct BTFRecord {
    let start: UnsafeRawPointer?
    let bigEndian: Bool

    static var void: BTFRecord { BTFRecord(start: nil, bigEndian: false) }

    @inline(__always)
    func word(_ index: Int) -> UInt32 {
        guard let start else { return 0 }
        let raw = start.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    var nameOffset: UInt32 { word(0) }
    /// `BTF_INFO_KIND`, as `BTFKind.rawValue`.
    var kind: UInt8 { UInt8(truncatingIfNeeded: (word(1) >> 24) & 0x1F) }
    var vlen: Int { Int(word(1) & 0xFFFF) }
    var kindFlag: Bool { word(1) >> 31 != 0 }
    /// The size of ints, floats, composites, enums and data sections.
    var size: UInt32 { word(2) }
    /// The type a pointer, typedef, qualifier, type tag, function, variable or prototype's return
    /// refers to.
    var referencedType: BTFTypeID { BTFTypeID(word(2)) }

    // MARK: Arrays (`struct btf_array`: element type, index type, count)

    var arrayElementType: BTFTypeID { BTFTypeID(word(3)) }
    var arrayCount: UInt32 { word(5) }

    // MARK: Struct and union members (`struct btf_member`: name, type, offset)

    @inline(__always) func memberNameOffset(_ index: Int) -> UInt32 { word(3 &+ index &* 3) }
    @inline(__always) func memberType(_ index: Int) -> BTFTypeID { BTFTypeID(word(4 &+ index &* 3)) }
    /// The member's offset in bits; with kind_flag set the top byte holds its bitfield size.
    @inline(__always) func memberBitOffset(_ index: Int) -> Int {
        let raw = word(5 &+ index &* 3)
        return Int(kindFlag ? raw & 0x00FF_FFFF : raw)
    }
    @inline(__always) func memberBitfieldSize(_ index: Int) -> Int {
        kindFlag ? Int(word(5 &+ index &* 3) >> 24) : 0
    }

    // MARK: Enum values (`struct btf_enum`: name, value; `struct btf_enum64`: name, low, high)

    @inline(__always) func enumValueStride(is64: Bool) -> Int { is64 ? 3 : 2 }
    @inline(__always) func enumValueNameOffset(_ index: Int, is64: Bool) -> UInt32 {
        word(3 &+ index &* enumValueStride(is64: is64))
    }
    @inline(__always) func enumValueLow(_ index: Int, is64: Bool) -> UInt32 {
        word(4 &+ index &* enumValueStride(is64: is64))
    }
    @inline(__always) func enumValueHigh(_ index: Int) -> UInt32 { word(5 &+ index &* 3) }

    // MARK: Prototype parameters (`struct btf_param`: name, type)

    @inline(__always) func parameterNameOffset(_ index: Int) -> UInt32 { word(3 &+ index &* 2) }
    @inline(__always) func parameterType(_ index: Int) -> BTFTypeID { BTFTypeID(word(4 &+ index &* 2)) }

    // MARK: Data section entries (`struct btf_var_secinfo`: type, offset, size)

    @inline(__always) func sectionEntryType(_ index: Int) -> BTFTypeID { BTFTypeID(word(3 &+ index &* 3)) }

    /// The number of type references the record holds, in the order `reference(at:)` gives them
    /// (as `BTFType.referenceCount`).
    var referenceCount: Int {
        switch kind {
        case 2, 8, 9, 10, 11, 12, 14, 17, 18: 1
        case 3: 2
        case 4, 5, 15: vlen
        case 13: 1 &+ vlen
        default: 0
        }
    }

    /// The `index`th referenced type (as `BTFType.reference(at:)`), for `index < referenceCount`.
    func reference(at index: Int) -> BTFTypeID {
        switch kind {
        case 3: BTFTypeID(word(3 &+ index))
        case 4, 5: memberType(index)
        case 13: index == 0 ? referencedType : parameterType(index &- 1)
        case 15: sectionEntryType(index)
        default: referencedType
        }
    }

    /// The string offsets the record holds besides its own name: member, enumerator and parameter
    /// names.
    var nestedNameCount: Int {
        switch kind {
        case 4, 5, 6, 13, 19: vlen
        default: 0
        }
    }

    func nestedNameOffset(_ index: Int) -> UInt32 {
        switch kind {
        case 4, 5: memberNameOffset(index)
        case 6: enumValueNameOffset(index, is64: false)
        case 19: enumValueNameOffset(index, is64: true)
        default: parameterNameOffset(index)
        }
    }
}

/// Counts how often each name was used, by the name's bytes (two offsets may hold the same string),
/// without making a Swift string of any: an open-addressing table of string offsets.
struct NameUseCounter {
    private var keys: [UInt32]
    private var counts: [UInt32]
    private var used = 0
    private static let empty = UInt32.max

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: Self.empty, count: size)
        counts = Array(repeating: 0, count: size)
    }

    @inline(__always)
    private static func hash(_ string: UnsafePointer<CChar>) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        var pointer = string
        while pointer.pointee != 0 {
            hash = (hash ^ UInt32(UInt8(bitPattern: pointer.pointee))) &* 16_777_619
            pointer += 1
        }
        return hash
    }

    /// Counts one more use of the string at `offset` (whose bytes `spec` holds) and returns how
    /// many uses it has had, this one included.
    mutating func countUse(of offset: UInt32, in spec: BTFSpec) -> UInt32 {
        let string = spec.cString(at: offset) ?? BTFRecordStrings.empty
        if used * 2 >= keys.count { grow(spec) }
        let mask = keys.count &- 1
        var slot = Int(Self.hash(string)) & mask
        while true {
            let key = keys[slot]
            if key == Self.empty {
                keys[slot] = offset
                counts[slot] = 1
                used &+= 1
                return 1
            }
            if key == offset || strcmp(spec.cString(at: key) ?? BTFRecordStrings.empty, string) == 0 {
                counts[slot] &+= 1
                return counts[slot]
            }
            slot = (slot &+ 1) & mask
        }
    }

    private mutating func grow(_ spec: BTFSpec) {
        let oldKeys = keys
        let oldCounts = counts
        keys = Array(repeating: Self.empty, count: oldKeys.count * 2)
        counts = Array(repeating: 0, count: oldKeys.count * 2)
        let mask = keys.count &- 1
        for (position, key) in oldKeys.enumerated() where key != Self.empty {
            var slot = Int(Self.hash(spec.cString(at: key) ?? BTFRecordStrings.empty)) & mask
            while keys[slot] != Self.empty { slot = (slot &+ 1) & mask }
            keys[slot] = key
            counts[slot] = oldCounts[position]
        }
    }
}

enum BTFRecordStrings {
    /// A NUL byte that outlives every use, standing in for names at offsets past the strings.
    nonisolated(unsafe) static let empty: UnsafePointer<CChar> = {
        let byte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        byte.initialize(to: 0)
        return UnsafePointer(byte)
    }()
}
