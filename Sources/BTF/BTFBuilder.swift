/// Builds a BTF blob from `BTFType` values: types get consecutive ids in the order they are added,
/// names go into one string table that stores each distinct string once, and the result is a blob
/// the kernel (`BPF_BTF_LOAD`) and `BTFSpec` accept, in either byte order.
///
/// Types refer to each other by id, so add a type after the types it refers to and use the ids
/// `add(_:)` returned. References to ids not added yet are allowed (a struct that points to
/// itself, or a whole graph added in id order); `bytes(byteOrder:)` checks that every reference
/// exists by then.
///
/// With deduplication on (the default), adding a type equal to one added before returns the earlier
/// id instead of a new one, when that is safe: the type refers only to types that already exist,
/// so equal records mean equal types. Variables and data sections are never merged, since two
/// variables of the same name and type are still two objects.
///
/// ```swift
/// var builder = BTFBuilder()
/// let int = try builder.add(.int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32)))
/// let pointer = try builder.add(.pointer(BTFPointer(target: int)))
/// let blob = try builder.bytes()
/// ```
public struct BTFBuilder: Sendable {
    /// The id the first added type gets: 1, or one past the base's last id for split BTF.
    public let firstTypeID: BTFTypeID
    /// The types added so far; index `i` holds the type with id `firstTypeID + i`.
    public private(set) var types: [BTFType] = []
    /// Whether `add(_:)` returns the id of an equal, earlier type instead of adding a copy.
    public var deduplicatesTypes: Bool

    /// The encoded type records, one native-order word per element.
    private var words: [UInt32] = []
    private var strings = StringTable()
    private var identities: [BTFType: BTFTypeID] = [:]
    /// The base's total string length: split BTF's own string offsets continue after it.
    private let stringBase: UInt32
    /// The largest id any type refers to, and the type that refers to it.
    private var largestReference = (referenced: BTFTypeID.void, by: BTFTypeID.void)

    /// An empty builder for standalone BTF.
    public init(deduplicatingTypes: Bool = true) {
        firstTypeID = 1
        stringBase = 0
        deduplicatesTypes = deduplicatingTypes
    }

    /// An empty builder for split BTF on top of `base` (module BTF on top of vmlinux): ids continue
    /// after the base's, and types may refer to the base's types.
    public init(base: BTFSpec, deduplicatingTypes: Bool = true) {
        firstTypeID = BTFTypeID(base.typeCount)
        stringBase = base.totalStringLength
        deduplicatesTypes = deduplicatingTypes
    }

    /// The id the next added type gets; also one past the last id.
    public var nextTypeID: BTFTypeID {
        BTFTypeID(firstTypeID.rawValue &+ UInt32(truncatingIfNeeded: types.count))
    }

    /// The added type with id `id`, or nil for ids this builder did not assign.
    public func type(_ id: BTFTypeID) -> BTFType? {
        let index = Int(id.rawValue) &- Int(firstTypeID.rawValue)
        guard index >= 0, index < types.count else { return nil }
        return types[index]
    }

    /// Adds `type` and returns its id (or the id of an equal type added before; see the type's
    /// documentation). Adding `.void` returns id 0, which every spec has implicitly.
    ///
    /// Throws, adding nothing, when the type cannot be written: too many members, an enumerator
    /// too wide for a 32-bit enum, a name with a NUL byte, ids past 32 bits.
    @discardableResult
    public mutating func add(_ type: BTFType) throws(BTFMarshalError) -> BTFTypeID {
        if case .void = type { return .void }
        let id = nextTypeID
        guard id.rawValue < UInt32.max else {
            throw .tooLarge(section: "type ids", size: UInt64(id.rawValue) + 1)
        }
        let mergeable = deduplicatesTypes && Self.isMergeable(type, before: id)
        if mergeable, let existing = identities[type] { return existing }

        let start = words.count
        do {
            try encode(type, id: id)
        } catch {
            words.removeSubrange(start...)
            throw error
        }
        for index in 0..<type.referenceCount {
            if let referenced = type.reference(at: index), referenced > largestReference.referenced {
                largestReference = (referenced, id)
            }
        }
        types.append(type)
        if mergeable { identities[type] = id }
        return id
    }

    /// Adds `string` to the string table (once, however often it is added) and returns its offset.
    public mutating func addString(_ string: String) throws(BTFMarshalError) -> UInt32 {
        try name(string, of: nextTypeID)
    }

    /// The blob: header, type section, string section, in `byteOrder`.
    ///
    /// Throws `typeIDOutOfRange` for a reference to an id that was never added.
    public func bytes(byteOrder: BTFByteOrder = .host) throws(BTFMarshalError) -> [UInt8] {
        let typeCount = nextTypeID
        if largestReference.referenced >= typeCount {
            throw .typeIDOutOfRange(
                id: largestReference.by, referenced: largestReference.referenced, typeCount: typeCount.rawValue)
        }
        let headerSize = BTFHeader.knownSize
        let typeBytes = UInt64(words.count) * 4
        let stringBytes = UInt64(strings.bytes.count)
        guard typeBytes <= UInt64(UInt32.max) else { throw .tooLarge(section: "type section", size: typeBytes) }
        guard stringBytes <= UInt64(UInt32.max) else { throw .tooLarge(section: "string section", size: stringBytes) }
        guard typeBytes + stringBytes <= UInt64(UInt32.max) else {
            throw .tooLarge(section: "blob", size: typeBytes + stringBytes)
        }
        let total = headerSize + Int(typeBytes) + Int(stringBytes)
        let swap = byteOrder != .host
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            func store(_ word: UInt32, at offset: Int) {
                raw.storeBytes(of: swap ? word.byteSwapped : word, toByteOffset: offset, as: UInt32.self)
            }
            let magic = swap ? BTFHeader.magic.byteSwapped : BTFHeader.magic
            raw.storeBytes(of: magic, toByteOffset: 0, as: UInt16.self)
            raw[2] = BTFHeader.version
            raw[3] = 0
            store(UInt32(headerSize), at: 4)
            store(0, at: 8)
            store(UInt32(typeBytes), at: 12)
            store(UInt32(typeBytes), at: 16)
            store(UInt32(stringBytes), at: 20)
            var offset = headerSize
            if swap {
                for word in words {
                    raw.storeBytes(of: word.byteSwapped, toByteOffset: offset, as: UInt32.self)
                    offset &+= 4
                }
            } else {
                words.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + source.count)])
                        .copyMemory(from: source)
                }
                offset += Int(typeBytes)
            }
            strings.bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + source.count)]).copyMemory(from: source)
            }
            initialized = total
        }
    }

    // MARK: - Encoding

    /// Whether `type` may be merged with an equal one: it refers only to existing ids and is not a
    /// variable or data section.
    private static func isMergeable(_ type: BTFType, before id: BTFTypeID) -> Bool {
        switch type {
        case .variable, .dataSection: return false
        default: break
        }
        for index in 0..<type.referenceCount {
            guard let referenced = type.reference(at: index), referenced < id else { return false }
        }
        return true
    }

    private mutating func name(_ string: String, of id: BTFTypeID) throws(BTFMarshalError) -> UInt32 {
        guard let local = strings.intern(string) else { throw .stringContainsNUL(id: id, string: string) }
        let (offset, overflow) = stringBase.addingReportingOverflow(local)
        guard !overflow else { throw .tooLarge(section: "string offsets", size: UInt64(stringBase) + UInt64(local)) }
        return offset
    }

    private mutating func header(
        _ name: String, _ kind: BTFKind, vlen: Int = 0, kindFlag: Bool = false, sizeOrType: UInt32, id: BTFTypeID
    ) throws(BTFMarshalError) {
        guard vlen <= 0xFFFF else { throw .tooManyComponents(id: id, kind: kind, count: vlen) }
        words.append(try self.name(name, of: id))
        words.append((kindFlag ? 1 << 31 : 0) | UInt32(kind.rawValue) << 24 | UInt32(vlen))
        words.append(sizeOrType)
    }

    private mutating func encode(_ type: BTFType, id: BTFTypeID) throws(BTFMarshalError) {
        switch type {
        case .void:
            return
        case .int(let t):
            guard t.encoding.rawValue <= 0x0F else {
                throw .fieldOutOfRange(id: id, field: "int encoding", value: UInt64(t.encoding.rawValue))
            }
            try header(t.name, .int, sizeOrType: t.size, id: id)
            words.append(UInt32(t.encoding.rawValue) << 24 | UInt32(t.offset) << 16 | UInt32(t.bits))
        case .pointer(let t):
            try header("", .pointer, sizeOrType: t.target.rawValue, id: id)
        case .array(let t):
            try header("", .array, sizeOrType: 0, id: id)
            words.append(t.elementType.rawValue)
            words.append(t.indexType.rawValue)
            words.append(t.count)
        case .struct(let t):
            try composite(t, .struct, id: id)
        case .union(let t):
            try composite(t, .union, id: id)
        case .enum(let t):
            try header(t.name, .enum, vlen: t.values.count, kindFlag: t.isSigned, sizeOrType: t.size, id: id)
            for value in t.values {
                let fits = t.isSigned
                    ? Int64(Int32.min)...Int64(Int32.max) ~= value.signedValue
                    : value.value <= UInt64(UInt32.max)
                guard fits else { throw .enumValueOutOfRange(id: id, name: value.name, value: value.value) }
                words.append(try name(value.name, of: id))
                words.append(UInt32(truncatingIfNeeded: value.value))
            }
        case .enum64(let t):
            try header(t.name, .enum64, vlen: t.values.count, kindFlag: t.isSigned, sizeOrType: t.size, id: id)
            for value in t.values {
                words.append(try name(value.name, of: id))
                words.append(UInt32(truncatingIfNeeded: value.value))
                words.append(UInt32(truncatingIfNeeded: value.value >> 32))
            }
        case .forward(let t):
            try header(t.name, .forward, kindFlag: t.isUnion, sizeOrType: 0, id: id)
        case .typedef(let t):
            try header(t.name, .typedef, sizeOrType: t.type.rawValue, id: id)
        case .volatile(let t):
            try header("", .volatile, sizeOrType: t.type.rawValue, id: id)
        case .const(let t):
            try header("", .const, sizeOrType: t.type.rawValue, id: id)
        case .restrict(let t):
            try header("", .restrict, sizeOrType: t.type.rawValue, id: id)
        case .typeTag(let t):
            try header(t.name, .typeTag, kindFlag: t.isAttribute, sizeOrType: t.type.rawValue, id: id)
        case .function(let t):
            guard t.linkage.rawValue <= 0xFFFF else {
                throw .fieldOutOfRange(id: id, field: "function linkage", value: UInt64(t.linkage.rawValue))
            }
            try header(t.name, .function, vlen: Int(t.linkage.rawValue), sizeOrType: t.prototype.rawValue, id: id)
        case .functionPrototype(let t):
            try header("", .functionPrototype, vlen: t.parameters.count, sizeOrType: t.returnType.rawValue, id: id)
            for parameter in t.parameters {
                words.append(try name(parameter.name, of: id))
                words.append(parameter.type.rawValue)
            }
        case .variable(let t):
            try header(t.name, .variable, sizeOrType: t.type.rawValue, id: id)
            words.append(t.linkage.rawValue)
        case .dataSection(let t):
            try header(t.name, .dataSection, vlen: t.variables.count, sizeOrType: t.size, id: id)
            for variable in t.variables {
                words.append(variable.type.rawValue)
                words.append(variable.offset)
                words.append(variable.size)
            }
        case .float(let t):
            try header(t.name, .float, sizeOrType: t.size, id: id)
        case .declarationTag(let t):
            guard t.componentIndex >= -1 else { throw .invalidComponentIndex(id: id, index: t.componentIndex) }
            try header(t.name, .declarationTag, kindFlag: t.isAttribute, sizeOrType: t.type.rawValue, id: id)
            words.append(UInt32(bitPattern: t.componentIndex))
        }
    }

    /// A struct or union. Bitfield sizes need the kind_flag layout, which keeps the size in the top
    /// 8 bits of each member's offset.
    private mutating func composite(_ t: BTFComposite, _ kind: BTFKind, id: BTFTypeID) throws(BTFMarshalError) {
        let hasBitfields = t.members.contains { $0.bitfieldSize != 0 }
        try header(t.name, kind, vlen: t.members.count, kindFlag: hasBitfields, sizeOrType: t.size, id: id)
        for member in t.members {
            var offset = member.bitOffset
            if hasBitfields {
                guard offset <= 0x00FF_FFFF else {
                    throw .memberOffsetOutOfRange(id: id, member: member.name, bitOffset: offset)
                }
                offset |= UInt32(member.bitfieldSize) << 24
            }
            words.append(try name(member.name, of: id))
            words.append(member.type.rawValue)
            words.append(offset)
        }
    }
}

/// A BTF string section under construction: NUL-terminated strings, the empty string at offset 0,
/// each distinct string stored once.
private struct StringTable: Sendable {
    var bytes: [UInt8] = [0]
    var offsets: [String: UInt32] = ["": 0]

    /// The offset of `string`, adding it if new; nil if it contains a NUL byte or the table would
    /// pass 32 bits.
    mutating func intern(_ string: String) -> UInt32? {
        if let known = offsets[string] { return known }
        let offset = bytes.count
        var valid = true
        var copy = string
        copy.withUTF8 { utf8 in
            if utf8.contains(0) {
                valid = false
                return
            }
            bytes.append(contentsOf: utf8)
        }
        guard valid, let result = UInt32(exactly: offset), bytes.count < Int(UInt32.max) else {
            bytes.removeSubrange(offset...)
            return nil
        }
        bytes.append(0)
        offsets[string] = result
        return result
    }
}

extension BTFByteOrder {
    /// The byte order of the machine this runs on, which is the one the kernel accepts.
    public static var host: BTFByteOrder {
        UInt16(1).littleEndian == 1 ? .littleEndian : .bigEndian
    }
}
