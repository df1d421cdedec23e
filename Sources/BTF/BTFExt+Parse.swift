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
        let sections = try BTFExtSections(bytes: bytes, spec: spec)
        self.init(byteOrder: sections.byteOrder)
        funcInfos = Self.byName(sections.names, sections.funcInfoRuns)
        lineInfos = Self.byName(sections.names, sections.lineInfoRuns)
        coreRelocations = Self.byName(sections.names, sections.coreRelocationRuns)
    }

    /// The records of every section that has a run in a subsection (possibly an empty one).
    private static func byName<Record>(_ names: [String], _ runs: [[Record]?]) -> [String: [Record]] {
        var result = [String: [Record]](minimumCapacity: runs.count)
        for (index, records) in runs.enumerated() {
            if let records { result[names[index]] = records }
        }
        return result
    }
}

/// The records of a `.BTF.ext` section grouped by code section, the sections numbered in the order
/// the section first names them. The object reader finds a code section's records by position
/// here instead of hashing its name three times in ``BTFExt``'s dictionaries.
package struct BTFExtSections: Sendable {
    /// The byte order the section was written in.
    package let byteOrder: BTFByteOrder
    /// The code section names, each once.
    package private(set) var names: [String] = []
    /// Per name (same index), the section's records in each subsection; nil when the subsection
    /// has no run for the section.
    package private(set) var funcInfoRuns: [[BTFFuncInfo]?] = []
    package private(set) var lineInfoRuns: [[BTFLineInfo]?] = []
    package private(set) var coreRelocationRuns: [[BTFCoreRelocation]?] = []

    /// Parses a `.BTF.ext` section, resolving its strings and type ids against `spec`, the
    /// object's `.BTF` section.
    package init(bytes: ArraySlice<UInt8>, spec: BTFSpec) throws(BTFExtError) {
        guard bytes.count >= BTFExt.minimumHeaderSize else {
            throw .truncatedHeader(available: bytes.count, needed: BTFExt.minimumHeaderSize)
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
        guard headerLength >= UInt32(BTFExt.minimumHeaderSize), UInt64(headerLength) <= UInt64(bytes.count) else {
            throw .badHeaderLength(headerLength, available: bytes.count)
        }
        self.byteOrder = byteOrder
        var sectionNames = ExtSectionNames()
        // Each run of records is bounds-checked once as a whole (``ExtParser/records``), so the
        // fields of a record are read unchecked; only what a field means is checked here.
        let functions = try parser.subsection("func_info", header: 8, minimumRecord: 8, headerLength: headerLength)
        try parser.records(functions, sectionNames: &sectionNames, into: &funcInfoRuns) { (words, record) throws(BTFExtError) -> BTFFuncInfo in
            BTFFuncInfo(
                instructionOffset: try parser.instructionOffset(words[record], at: record, in: "func_info"),
                type: try parser.typeID(words[record + 4], at: record + 4, in: "func_info"))
        }
        let lineText = BTFLineText(spec: spec)
        let lines = try parser.subsection("line_info", header: 16, minimumRecord: 16, headerLength: headerLength)
        try parser.records(lines, sectionNames: &sectionNames, into: &lineInfoRuns) { (words, record) throws(BTFExtError) -> BTFLineInfo in
            let lineAndColumn = words[record + 12]
            return BTFLineInfo(
                instructionOffset: try parser.instructionOffset(words[record], at: record, in: "line_info"),
                text: lineText, fileName: try parser.stringOffset(words[record + 4], at: record + 4, in: "line_info"),
                line: try parser.stringOffset(words[record + 8], at: record + 8, in: "line_info"),
                lineNumber: lineAndColumn >> 10, column: lineAndColumn & 0x3FF)
        }
        if headerLength >= UInt32(BTFExt.headerSizeWithCoreRelocations) {
            let relocations = try parser.subsection(
                "core_relo", header: 24, minimumRecord: 16, headerLength: headerLength)
            try parser.records(relocations, sectionNames: &sectionNames, into: &coreRelocationRuns) { (words, record) throws(BTFExtError) -> BTFCoreRelocation in
                BTFCoreRelocation(
                    instructionOffset: try parser.instructionOffset(words[record], at: record, in: "core_relo"),
                    type: try parser.typeID(words[record + 4], at: record + 4, in: "core_relo"),
                    accessString: try parser.string(words[record + 8], at: record + 8, in: "core_relo"),
                    kind: BTFCoreRelocationKind(rawValue: words[record + 12]))
            }
        }
        names = sectionNames.names
        funcInfoRuns += Array(repeating: nil, count: names.count - funcInfoRuns.count)
        lineInfoRuns += Array(repeating: nil, count: names.count - lineInfoRuns.count)
        coreRelocationRuns += Array(repeating: nil, count: names.count - coreRelocationRuns.count)
    }

    /// The records of section `index` of ``names``.
    package func records(ofSection index: Int) -> ([BTFFuncInfo], [BTFLineInfo], [BTFCoreRelocation]) {
        (funcInfoRuns[index] ?? [], lineInfoRuns[index] ?? [], coreRelocationRuns[index] ?? [])
    }
}

/// The code section names of a `.BTF.ext` section, numbered as they are first met. Each string
/// offset is decoded once; two offsets of equal strings get the same number.
struct ExtSectionNames {
    private(set) var names: [String] = []
    /// Each string offset met, in order, with its name's number.
    private var offsets: [(offset: UInt32, index: Int)] = []
    /// Where in ``offsets`` the next run's offset is looked for first: the three subsections name
    /// the code sections in the same order, so this usually hits without hashing.
    private var cursor = 0
    /// Positions in ``offsets`` and numbers by name, built once a section has more names than a
    /// linear search suits.
    private var positionByOffset: [UInt32: Int]?
    private var indexByName: [String: Int]?
    private static let linearSearchLimit = 64

    /// Room for `count` names in all, so that the tables are not rehashed as they grow.
    mutating func reserveCapacity(_ count: Int) {
        guard count > names.count else { return }
        names.reserveCapacity(count)
        offsets.reserveCapacity(count)
    }

    mutating func index(ofNameAt offset: UInt32, decode: () throws(BTFExtError) -> String) throws(BTFExtError) -> Int {
        if cursor < offsets.count, offsets[cursor].offset == offset {
            cursor += 1
            return offsets[cursor - 1].index
        }
        if let position = position(ofOffset: offset) {
            cursor = position + 1
            return offsets[position].index
        }
        let name = try decode()
        let index: Int
        if let known = knownIndex(of: name) {
            index = known
        } else {
            index = names.count
            names.append(name)
            indexByName?[name] = index
        }
        positionByOffset?[offset] = offsets.count
        offsets.append((offset, index))
        cursor = offsets.count
        if offsets.count > Self.linearSearchLimit, positionByOffset == nil { buildTables() }
        return index
    }

    private func position(ofOffset offset: UInt32) -> Int? {
        if let positionByOffset { return positionByOffset[offset] }
        return offsets.firstIndex { $0.offset == offset }
    }

    private func knownIndex(of name: String) -> Int? {
        if let indexByName { return indexByName[name] }
        let length = name.utf8.count
        return names.firstIndex { $0.utf8.count == length && $0 == name }
    }

    private mutating func buildTables() {
        var byOffset = [UInt32: Int](minimumCapacity: offsets.count * 2)
        for (position, entry) in offsets.enumerated() { byOffset[entry.offset] = position }
        var byName = [String: Int](minimumCapacity: names.count * 2)
        for (index, name) in names.enumerated() { byName[name] = index }
        positionByOffset = byOffset
        indexByName = byName
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
    /// A static string, so that copying the subsection copies no reference.
    var name: StaticString
    var start: Int
    var end: Int
    var recordSize: Int
}

/// Bounds-checked reads of a `.BTF.ext` section with errors that name the subsection.
struct ExtParser {
    let reader: ByteReader
    let spec: BTFSpec

    func word(_ offset: Int, in subsection: StaticString) throws(BTFExtError) -> UInt32 {
        do {
            return try reader.readU32(at: offset)
        } catch {
            throw .truncatedRecords(subsection: subsection.description, offset: offset, needed: 4, available: max(reader.count - offset, 0))
        }
    }

    func string(_ field: Int, in subsection: StaticString) throws(BTFExtError) -> String {
        try string(try word(field, in: subsection), at: field, in: subsection)
    }

    func string(_ offset: UInt32, at field: Int, in subsection: StaticString) throws(BTFExtError) -> String {
        guard let string = spec.string(at: offset) else {
            throw .stringOffsetOutOfRange(subsection: subsection.description, offset: field, stringOffset: offset)
        }
        return string
    }

    /// A string's offset, checked to lie in the `.BTF` strings, for records that decode it later.
    func stringOffset(_ offset: UInt32, at field: Int, in subsection: StaticString) throws(BTFExtError) -> UInt32 {
        guard spec.containsString(at: offset) else {
            throw .stringOffsetOutOfRange(subsection: subsection.description, offset: field, stringOffset: offset)
        }
        return offset
    }

    func typeID(_ id: UInt32, at field: Int, in subsection: StaticString) throws(BTFExtError) -> BTFTypeID {
        guard id < spec.typeCount else {
            throw .typeIDOutOfRange(subsection: subsection.description, offset: field, type: BTFTypeID(id), typeCount: spec.typeCount)
        }
        return BTFTypeID(id)
    }

    func instructionOffset(_ offset: UInt32, at field: Int, in subsection: StaticString) throws(BTFExtError) -> UInt32 {
        guard offset % 8 == 0 else {
            throw .misalignedInstructionOffset(subsection: subsection.description, offset: field, instructionOffset: offset)
        }
        return offset
    }

    /// Locates a subsection from its offset and length at `header` in the header; nil if empty.
    func subsection(
        _ name: StaticString, header field: Int, minimumRecord: UInt32, headerLength: UInt32
    ) throws(BTFExtError) -> ExtSubsection? {
        let offset = try word(field, in: "header")
        let length = try word(field + 4, in: "header")
        let start = UInt64(headerLength) + UInt64(offset)
        guard start + UInt64(length) <= UInt64(reader.count) else {
            throw .subsectionOutOfBounds(
                subsection: name.description, offset: offset, length: length, available: reader.count - Int(headerLength))
        }
        guard length > 0 else { return nil }
        let recordSize = try word(Int(start), in: name)
        guard recordSize >= minimumRecord else {
            throw .recordSizeTooSmall(subsection: name.description, offset: Int(start), recordSize: recordSize, minimum: minimumRecord)
        }
        return ExtSubsection(name: name, start: Int(start) + 4, end: Int(start + UInt64(length)), recordSize: Int(recordSize))
    }

    /// Reads every `btf_ext_info_sec` of a subsection and decodes its records with `decode`,
    /// which gets the section's words and each record's offset. Runs go to `table` at their
    /// section's number in `sectionNames` (the three subsections name the same code sections);
    /// runs of one section are joined in file order.
    func records<Record>(
        _ subsection: ExtSubsection?, sectionNames: inout ExtSectionNames, into table: inout [[Record]?],
        _ decode: (ExtWords, Int) throws(BTFExtError) -> Record
    ) throws(BTFExtError) {
        guard let subsection else { return }
        let subsectionName = subsection.name
        let runs = runCount(subsection)
        sectionNames.reserveCapacity(runs)
        table.reserveCapacity(runs)
        var position = subsection.start
        while position < subsection.end {
            guard subsection.end - position >= 8 else {
                throw .truncatedRecords(
                    subsection: subsection.name.description, offset: position, needed: 8, available: subsection.end - position)
            }
            let nameOffset = try word(position, in: subsection.name)
            let runStart = position
            let section = try sectionNames.index(ofNameAt: nameOffset) { () throws(BTFExtError) -> String in
                try string(nameOffset, at: runStart, in: subsectionName)
            }
            let count = try word(position + 4, in: subsection.name)
            let needed = UInt64(count) * UInt64(subsection.recordSize)
            let available = subsection.end - position - 8
            guard needed <= UInt64(available) else {
                throw .truncatedRecords(subsection: subsection.name.description, offset: position, needed: needed, available: available)
            }
            // The whole run lies inside the subsection (checked just above), and every record is
            // at least as long as the fields `decode` reads.
            let first = position + 8
            let recordSize = subsection.recordSize
            // `withUnsafeBytes` of a slice only rethrows untyped errors, hence the `Result`.
            var failure: BTFExtError?
            let records = reader.bytes.withUnsafeBytes { buffer in
                // Written in place: appending checks capacity and uniqueness for every record.
                [Record](unsafeUninitializedCapacity: Int(count)) { records, initializedCount in
                    initializedCount = 0
                    guard let base = buffer.baseAddress, let target = records.baseAddress else { return }
                    let words = ExtWords(base: base, isBigEndian: reader.byteOrder == .bigEndian)
                    var record = first
                    var produced = 0
                    while produced < Int(count) {
                        do throws(BTFExtError) {
                            (target + produced).initialize(to: try decode(words, record))
                        } catch {
                            failure = error
                            break
                        }
                        produced += 1
                        record += recordSize
                    }
                    initializedCount = produced
                }
            }
            if let failure { throw failure }
            while table.count <= section { table.append(nil) }
            // A section's first run is moved in rather than copied.
            if table[section] == nil {
                table[section] = records
            } else {
                table[section]?.append(contentsOf: records)
            }
            position = first + Int(needed)
        }
    }

    /// How many `btf_ext_info_sec` headers a subsection has, counted up to the first one that does
    /// not fit (which ``records(_:sectionNames:into:_:)`` then reports), to size tables once.
    private func runCount(_ subsection: ExtSubsection) -> Int {
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
