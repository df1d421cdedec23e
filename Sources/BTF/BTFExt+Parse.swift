import EBPFELFFile

extension BTFExt {
    /// The size of the header up to and including the line info fields.
    static let minimumHeaderSize = 24
    /// The size of the header with the CO-RE relocation fields.
    static let headerSizeWithCoreRelocations = 32

    /// Parses a `.BTF.ext` section, resolving its strings and type ids against `spec`, the
    /// object's `.BTF` section.
    public init(bytes: [UInt8], spec: BTFSpec) throws(BTFExtError) {
        try self.init(bytes: bytes[...], spec: spec)
    }

    /// Parses a `.BTF.ext` section, resolving its strings and type ids against `spec`, the
    /// object's `.BTF` section.
    public init(bytes: ArraySlice<UInt8>, spec: BTFSpec) throws(BTFExtError) {
        guard bytes.count >= Self.minimumHeaderSize else {
            throw .truncatedHeader(available: bytes.count, needed: Self.minimumHeaderSize)
        }
        let first = bytes[bytes.startIndex]
        let second = bytes[bytes.startIndex + 1]
        let magicLittle = UInt16(first) | UInt16(second) << 8
        let byteOrder: BTFByteOrder
        if magicLittle == BTFHeader.magic {
            byteOrder = .littleEndian
        } else if magicLittle.byteSwapped == BTFHeader.magic {
            byteOrder = .bigEndian
        } else {
            throw .badMagic(magicLittle)
        }
        let parser = ExtParser(
            reader: ByteReader(bytes: bytes, byteOrder: byteOrder == .littleEndian ? .littleEndian : .bigEndian),
            spec: spec)
        let version = bytes[bytes.startIndex + 2]
        guard version == 1 else { throw .unsupportedVersion(version) }
        let headerLength = try parser.word(4, in: "header")
        guard headerLength >= UInt32(Self.minimumHeaderSize), UInt64(headerLength) <= UInt64(bytes.count) else {
            throw .badHeaderLength(headerLength, available: bytes.count)
        }
        self.init(byteOrder: byteOrder)
        var sectionNames: [UInt32: String] = [:]
        // Each run of records is bounds-checked once as a whole (``ExtParser/records``), so the
        // fields of a record are read unchecked; only what a field means is checked here.
        let functions = try parser.subsection("func_info", header: 8, minimumRecord: 8, headerLength: headerLength)
        funcInfos = try parser.records(functions, sectionNames: &sectionNames) { (words, record) throws(BTFExtError) -> BTFFuncInfo in
            BTFFuncInfo(
                instructionOffset: try parser.instructionOffset(words[record], at: record, in: "func_info"),
                type: try parser.typeID(words[record + 4], at: record + 4, in: "func_info"))
        }
        let lineText = BTFLineText(spec: spec)
        let lines = try parser.subsection("line_info", header: 16, minimumRecord: 16, headerLength: headerLength)
        lineInfos = try parser.records(lines, sectionNames: &sectionNames) { (words, record) throws(BTFExtError) -> BTFLineInfo in
            let lineAndColumn = words[record + 12]
            return BTFLineInfo(
                instructionOffset: try parser.instructionOffset(words[record], at: record, in: "line_info"),
                text: lineText, fileName: try parser.stringOffset(words[record + 4], at: record + 4, in: "line_info"),
                line: try parser.stringOffset(words[record + 8], at: record + 8, in: "line_info"),
                lineNumber: lineAndColumn >> 10, column: lineAndColumn & 0x3FF)
        }
        if headerLength >= UInt32(Self.headerSizeWithCoreRelocations) {
            let relocations = try parser.subsection(
                "core_relo", header: 24, minimumRecord: 16, headerLength: headerLength)
            coreRelocations = try parser.records(relocations, sectionNames: &sectionNames) { (words, record) throws(BTFExtError) -> BTFCoreRelocation in
                BTFCoreRelocation(
                    instructionOffset: try parser.instructionOffset(words[record], at: record, in: "core_relo"),
                    type: try parser.typeID(words[record + 4], at: record + 4, in: "core_relo"),
                    accessString: try parser.string(words[record + 8], at: record + 8, in: "core_relo"),
                    kind: BTFCoreRelocationKind(rawValue: words[record + 12]))
            }
        }
    }
}

/// The 32-bit words of a `.BTF.ext` section read in place, for callers that checked the bounds of
/// a whole run of records first.
struct ExtWords {
    let base: UnsafeRawPointer
    let isBigEndian: Bool

    /// The word at byte `offset` of the section; the caller checked that `offset + 4` is inside.
    @inline(__always)
    subscript(offset: Int) -> UInt32 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return isBigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }
}

/// Where one subsection's records are.
struct ExtSubsection {
    var name: String
    var start: Int
    var end: Int
    var recordSize: Int
}

/// Bounds-checked reads of a `.BTF.ext` section with errors that name the subsection.
struct ExtParser {
    let reader: ByteReader
    let spec: BTFSpec

    func word(_ offset: Int, in subsection: String) throws(BTFExtError) -> UInt32 {
        do {
            return try reader.readU32(at: offset)
        } catch {
            throw .truncatedRecords(subsection: subsection, offset: offset, needed: 4, available: max(reader.count - offset, 0))
        }
    }

    func string(_ field: Int, in subsection: String) throws(BTFExtError) -> String {
        try string(try word(field, in: subsection), at: field, in: subsection)
    }

    func string(_ offset: UInt32, at field: Int, in subsection: String) throws(BTFExtError) -> String {
        guard let string = spec.string(at: offset) else {
            throw .stringOffsetOutOfRange(subsection: subsection, offset: field, stringOffset: offset)
        }
        return string
    }

    /// A string's offset, checked to lie in the `.BTF` strings, for records that decode it later.
    func stringOffset(_ offset: UInt32, at field: Int, in subsection: String) throws(BTFExtError) -> UInt32 {
        guard spec.cString(at: offset) != nil else {
            throw .stringOffsetOutOfRange(subsection: subsection, offset: field, stringOffset: offset)
        }
        return offset
    }

    func typeID(_ id: UInt32, at field: Int, in subsection: String) throws(BTFExtError) -> BTFTypeID {
        guard id < spec.typeCount else {
            throw .typeIDOutOfRange(subsection: subsection, offset: field, type: BTFTypeID(id), typeCount: spec.typeCount)
        }
        return BTFTypeID(id)
    }

    func instructionOffset(_ offset: UInt32, at field: Int, in subsection: String) throws(BTFExtError) -> UInt32 {
        guard offset % 8 == 0 else {
            throw .misalignedInstructionOffset(subsection: subsection, offset: field, instructionOffset: offset)
        }
        return offset
    }

    /// Locates a subsection from its offset and length at `header` in the header; nil if empty.
    func subsection(
        _ name: String, header field: Int, minimumRecord: UInt32, headerLength: UInt32
    ) throws(BTFExtError) -> ExtSubsection? {
        let offset = try word(field, in: "header")
        let length = try word(field + 4, in: "header")
        let start = UInt64(headerLength) + UInt64(offset)
        guard start + UInt64(length) <= UInt64(reader.count) else {
            throw .subsectionOutOfBounds(
                subsection: name, offset: offset, length: length, available: reader.count - Int(headerLength))
        }
        guard length > 0 else { return nil }
        let recordSize = try word(Int(start), in: name)
        guard recordSize >= minimumRecord else {
            throw .recordSizeTooSmall(subsection: name, offset: Int(start), recordSize: recordSize, minimum: minimumRecord)
        }
        return ExtSubsection(name: name, start: Int(start) + 4, end: Int(start + UInt64(length)), recordSize: Int(recordSize))
    }

    /// Reads every `btf_ext_info_sec` of a subsection and decodes its records with `decode`,
    /// which gets each record's offset. `sectionNames` remembers the names already decoded: the
    /// three subsections name the same code sections.
    func records<Record>(
        _ subsection: ExtSubsection?, sectionNames: inout [UInt32: String],
        _ decode: (ExtWords, Int) throws(BTFExtError) -> Record
    ) throws(BTFExtError) -> [String: [Record]] {
        guard let subsection else { return [:] }
        var result = [String: [Record]](minimumCapacity: sectionCount(subsection))
        var position = subsection.start
        while position < subsection.end {
            guard subsection.end - position >= 8 else {
                throw .truncatedRecords(
                    subsection: subsection.name, offset: position, needed: 8, available: subsection.end - position)
            }
            let nameOffset = try word(position, in: subsection.name)
            let sectionName: String
            if let known = sectionNames[nameOffset] {
                sectionName = known
            } else {
                sectionName = try string(position, in: subsection.name)
                sectionNames[nameOffset] = sectionName
            }
            let count = try word(position + 4, in: subsection.name)
            let needed = UInt64(count) * UInt64(subsection.recordSize)
            let available = subsection.end - position - 8
            guard needed <= UInt64(available) else {
                throw .truncatedRecords(subsection: subsection.name, offset: position, needed: needed, available: available)
            }
            // The whole run lies inside the subsection (checked just above), and every record is
            // at least as long as the fields `decode` reads.
            let first = position + 8
            // `withUnsafeBytes` of a slice only rethrows untyped errors, hence the `Result`.
            let decoded = reader.bytes.withUnsafeBytes { buffer in
                Result { () throws(BTFExtError) -> [Record] in
                    guard let base = buffer.baseAddress else { return [] }
                    let words = ExtWords(base: base, isBigEndian: reader.byteOrder == .bigEndian)
                    var records: [Record] = []
                    records.reserveCapacity(Int(count))
                    var record = first
                    for _ in 0..<count {
                        records.append(try decode(words, record))
                        record += subsection.recordSize
                    }
                    return records
                }
            }
            let records = try decoded.get()
            // One hash per run; a section's first run is moved in rather than copied.
            Self.place(records, into: &result[sectionName, default: []])
            position = first + Int(needed)
        }
        return result
    }

    private static func place<Record>(_ records: [Record], into slot: inout [Record]) {
        if slot.isEmpty {
            slot = records
        } else {
            slot.append(contentsOf: records)
        }
    }

    /// How many `btf_ext_info_sec` headers a subsection has, counted up to the first one that does
    /// not fit (which ``records(_:sectionNames:_:)`` then reports), to size the result once.
    private func sectionCount(_ subsection: ExtSubsection) -> Int {
        var count = 0
        var position = subsection.start
        while subsection.end - position >= 8, let records = try? word(position + 4, in: subsection.name) {
            let length = UInt64(records) * UInt64(subsection.recordSize) + 8
            guard length <= UInt64(subsection.end - position) else { break }
            position += Int(length)
            count += 1
        }
        return count
    }
}
