import Synchronization

/// A parsed BTF blob, decoded lazily.
///
/// The blob stays in one allocation. Creating a spec validates the header and string section and
/// builds an offset index (one `UInt32` per type) in a single pass that checks every type record's
/// kind, name offset and vlen against the bounds. Types are decoded on first use (`type(_:)`), found
/// by name without decoding anything (`typeID(named:kind:)`), or decoded all at once into a
/// `BTFTypeGraph`.
///
/// Split BTF (kernel module BTF) is parsed on top of its base: its ids continue after the base's
/// last id, and its string offsets continue after the base's string section.
///
/// ```swift
/// let vmlinux = try BTFSpec(path: "/sys/kernel/btf/vmlinux")
/// if let id = vmlinux.typeID(named: "task_struct", kind: .struct) { print(try vmlinux.type(id)) }
/// ```
public final class BTFSpec: Sendable {
    let storage: ByteStorage
    /// The blob's header.
    public let header: BTFHeader
    /// The spec this one continues, for split BTF.
    public let base: BTFSpec?
    /// The id of this spec's first own type: 1, or one past the base's last id.
    public let firstTypeID: BTFTypeID
    /// The string offset this spec's own string section starts at (the base's total string length).
    let firstStringOffset: UInt32
    /// Absolute offsets of the type and string sections in `storage`.
    let typeSectionStart: Int
    let stringSectionStart: Int
    /// For each own type, its record's offset relative to `typeSectionStart`.
    let offsets: [UInt32]
    let lazy = Mutex(LazyState())

    struct LazyState {
        var decoded: [UInt32: BTFType] = [:]
        var graph: BTFTypeGraph?
        var nameIndex: NameIndex?
        var nameLookups = 0
    }

    /// Parses a BTF blob read from `path` (for example `/sys/kernel/btf/vmlinux`).
    public convenience init(path: String, base: BTFSpec? = nil) throws(BTFError) {
        try self.init(storage: ByteStorage.reading(path: path), base: base)
    }

    /// Parses a copy of `bytes` (for example the `.BTF` section of an ELF file).
    public convenience init<Bytes: Collection<UInt8>>(bytes: Bytes, base: BTFSpec? = nil) throws(BTFError) {
        guard let storage = ByteStorage.copying(bytes) else {
            throw .readFailed(path: "<memory>", errno: 12)
        }
        try self.init(storage: storage, base: base)
    }

    init(storage: ByteStorage, base: BTFSpec?) throws(BTFError) {
        let bytes = storage.bytes
        let header = try BTFHeader(parsing: bytes)
        self.storage = storage
        self.header = header
        self.base = base
        typeSectionStart = Int(header.headerLength) + Int(header.typeOffset)
        stringSectionStart = Int(header.headerLength) + Int(header.stringOffset)

        let baseStrings = base?.totalStringLength ?? 0
        let first = base?.typeCount ?? 1
        firstStringOffset = baseStrings
        firstTypeID = BTFTypeID(first)
        // A base spec's strings start with the empty string; a split spec's continue its base's.
        let stringLength = Int(header.stringLength)
        if base == nil {
            guard stringLength > 0, bytes[stringSectionStart] == 0 else {
                throw .malformedStringSection(offset: stringSectionStart, length: header.stringLength)
            }
        }
        if stringLength > 0, bytes[stringSectionStart + stringLength - 1] != 0 {
            throw .malformedStringSection(offset: stringSectionStart, length: header.stringLength)
        }
        let (stringLimit, overflow) = baseStrings.addingReportingOverflow(header.stringLength)
        guard !overflow else { throw .malformedStringSection(offset: stringSectionStart, length: header.stringLength) }

        let types = UnsafeRawPointer(storage.base) + typeSectionStart
        switch header.byteOrder {
        case .littleEndian:
            offsets = try Self.indexTypes(
                LittleEndianWords.self, types: types, length: Int(header.typeLength),
                sectionStart: typeSectionStart, firstID: first, stringLimit: stringLimit)
        case .bigEndian:
            offsets = try Self.indexTypes(
                BigEndianWords.self, types: types, length: Int(header.typeLength),
                sectionStart: typeSectionStart, firstID: first, stringLimit: stringLimit)
        }
    }

    /// The byte order of the blob.
    public var byteOrder: BTFByteOrder { header.byteOrder }

    /// One past the last type id, counting the base's types and `void`.
    public var typeCount: UInt32 { firstTypeID.rawValue &+ UInt32(truncatingIfNeeded: offsets.count) }

    /// The number of types this spec itself holds (without the base's and without `void`).
    public var ownTypeCount: Int { offsets.count }

    /// The raw blob.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(storage.bytes)
    }

    var totalStringLength: UInt32 { firstStringOffset &+ header.stringLength }

    /// Builds the offset index: one pass over the type section that checks each record's kind,
    /// vlen and name offset, and that it fits.
    static func indexTypes<R: WordReading>(
        _: R.Type, types: UnsafeRawPointer, length: Int, sectionStart: Int, firstID: UInt32, stringLimit: UInt32
    ) throws(BTFError) -> [UInt32] {
        // No record is smaller than 12 bytes, which bounds the count. Pages of the array that the
        // loop never writes are never touched, so the generous capacity costs no resident memory.
        let capacity = length / 12
        var failure: BTFError?
        let offsets = [UInt32](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var offset = 0
            var index = 0
            while offset < length {
                let id = BTFTypeID(firstID &+ UInt32(truncatingIfNeeded: index))
                let remaining = length - offset
                guard remaining >= 12, index < capacity else {
                    failure = .truncatedType(id: id, offset: sectionStart + offset, needed: 12, available: remaining)
                    break
                }
                let nameOffset = R.word(types, offset)
                let info = R.word(types, offset + 4)
                let kind = UInt8(truncatingIfNeeded: (info >> 24) & 0x1F)
                let vlen = Int(info & 0xFFFF)
                var trailing = 0
                var vlenAllowed = vlen == 0
                switch kind {
                case 1, 14, 17: trailing = 4  // int, var, decl_tag
                case 2, 7, 8, 9, 10, 11, 16, 18: break
                case 3: trailing = 12
                case 12: vlenAllowed = vlen <= 2  // func: linkage lives in vlen
                case 4, 5, 15, 19:
                    trailing = vlen &* 12
                    vlenAllowed = true
                case 6, 13:
                    trailing = vlen &* 8
                    vlenAllowed = true
                default:
                    failure = .unknownKind(id: id, offset: sectionStart + offset, kind: kind)
                }
                if failure != nil { break }
                guard vlenAllowed, trailing <= remaining - 12 else {
                    failure = vlenAllowed && vlen == 0
                        ? .truncatedType(id: id, offset: sectionStart + offset, needed: 12 + trailing, available: remaining)
                        : .badVlen(id: id, offset: sectionStart + offset, kind: BTFKind(rawValue: kind), vlen: vlen)
                    break
                }
                guard nameOffset < stringLimit else {
                    failure = .stringOffsetOutOfRange(
                        id: id, offset: sectionStart + offset, stringOffset: nameOffset, stringSectionLength: stringLimit)
                    break
                }
                buffer[index] = UInt32(truncatingIfNeeded: offset)
                index += 1
                offset += 12 + trailing
            }
            initialized = index
        }
        if let failure { throw failure }
        guard UInt64(firstID) + UInt64(offsets.count) <= UInt64(UInt32.max) else {
            throw .tooManyTypes(offset: sectionStart)
        }
        return offsets
    }

    // MARK: - Raw access used by decoding and lookups

    /// The absolute byte offset of an own type's record, or nil for ids this spec does not hold.
    @inline(__always)
    func recordOffset(_ id: BTFTypeID) -> Int? {
        let index = Int(id.rawValue) &- Int(firstTypeID.rawValue)
        guard index >= 0, index < offsets.count else { return nil }
        return typeSectionStart &+ Int(offsets[index])
    }

    /// The NUL-terminated string at `offset` in this spec's string space (the base's strings first
    /// for split BTF), or nil when the offset is past the end.
    @inline(__always)
    func cString(at offset: UInt32) -> UnsafePointer<CChar>? {
        if offset < firstStringOffset {
            return base?.cString(at: offset)
        }
        let local = offset &- firstStringOffset
        guard local < header.stringLength else { return nil }
        return UnsafeRawPointer(storage.base + stringSectionStart + Int(local)).assumingMemoryBound(to: CChar.self)
    }

    /// Whether `offset` names a string (``cString(at:)`` is not nil), without a call for offsets in
    /// this spec's own strings: `.BTF.ext` checks two of them per line record.
    @inline(__always)
    func containsString(at offset: UInt32) -> Bool {
        if offset >= firstStringOffset { return offset &- firstStringOffset < header.stringLength }
        return base?.cString(at: offset) != nil
    }

    /// The string at `offset` as a Swift string.
    public func string(at offset: UInt32) -> String? {
        guard let pointer = cString(at: offset) else { return nil }
        return String(cString: pointer)
    }

    /// The kind of type `id` and its vlen, read from its header without decoding it.
    public func kindAndVlen(of id: BTFTypeID) throws(BTFError) -> (kind: BTFKind, vlen: Int) {
        if id == .void { return (.void, 0) }
        guard let offset = recordOffset(id) else {
            if id < firstTypeID, let base { return try base.kindAndVlen(of: id) }
            throw .noSuchType(id)
        }
        let info = word(at: offset + 4)
        return (BTFKind(rawValue: UInt8(truncatingIfNeeded: (info >> 24) & 0x1F)), Int(info & 0xFFFF))
    }

    @inline(__always)
    func word(at offset: Int) -> UInt32 {
        switch header.byteOrder {
        case .littleEndian: LittleEndianWords.word(storage.base, offset)
        case .bigEndian: BigEndianWords.word(storage.base, offset)
        }
    }
}
