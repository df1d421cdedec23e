/// A parsed ELF64 file in either byte order.
///
/// Parsing validates the file header, the section and program header tables and the extent of
/// every section eagerly; symbols, relocations and notes are decoded on demand. The reader knows
/// nothing about BPF: it serves kernel BTF in `vmlinux`, compiled BPF objects and the symbol
/// tables of binaries to probe alike.
///
/// ```swift
/// let file = try ELFFile(path: "counter.bpf.o")
/// guard file.header.machine == .bpf else { ... }
/// for symbol in try file.symbols() where symbol.kind == .func { print(symbol.name) }
/// ```
public struct ELFFile: Sendable {
    /// The whole file.
    public let bytes: [UInt8]
    /// The file header.
    public let header: ELFHeader
    /// The section headers, indexed as in the file (index 0 is the null section).
    public let sections: [ELFSection]
    /// The program headers (segments); empty for relocatable objects.
    public let programHeaders: [ELFProgramHeader]

    /// A reader over the whole file in its byte order.
    public var reader: ByteReader { ByteReader(bytes: bytes, byteOrder: header.byteOrder) }

    private let sectionIndexByName: [String: Int]

    /// Parses `bytes` as an ELF64 file.
    public init(bytes: [UInt8]) throws(ELFError) {
        let header = try ELFHeader.parse(bytes)
        let reader = ByteReader(bytes: bytes, byteOrder: header.byteOrder)
        self.bytes = bytes
        self.header = header
        self.programHeaders = try Self.parseProgramHeaders(header: header, reader: reader)
        let sections = try Self.parseSections(header: header, reader: reader)
        self.sections = sections
        // Sized up front and filled back to front, so the first of several sections with the same
        // name wins with one hash per section and no regrowth.
        var indexByName = [String: Int](minimumCapacity: sections.count)
        for section in sections.reversed() where !section.name.isEmpty {
            indexByName[section.name] = section.index
        }
        self.sectionIndexByName = indexByName
    }

    /// The first section called `name`, if any.
    public func section(named name: String) -> ELFSection? {
        sectionIndexByName[name].map { sections[$0] }
    }

    /// The section at `index` in the section header table, if there is one.
    public func section(at index: Int) -> ELFSection? {
        sections.indices.contains(index) ? sections[index] : nil
    }

    /// The sections of the given type, in file order.
    public func sections(ofType type: ELFSectionType) -> [ELFSection] {
        sections.filter { $0.type == type }
    }

    /// The bytes of a section; empty for ``ELFSectionType/nobits`` and ``ELFSectionType/null``.
    ///
    /// The slice shares storage with ``bytes``; its indices are offsets into the file.
    public func contents(of section: ELFSection) throws(ELFError) -> ArraySlice<UInt8> {
        if section.type == .nobits || section.type == .null { return bytes[0..<0] }
        guard let range = Self.fileRange(offset: section.offset, size: section.size, fileSize: bytes.count) else {
            throw .sectionOutOfBounds(
                section: section.displayName, offset: section.offset, size: section.size, fileSize: bytes.count)
        }
        return bytes[range]
    }

    /// The bytes of a segment as stored in the file (`p_filesz` bytes at `p_offset`).
    public func contents(of segment: ELFProgramHeader) throws(ELFError) -> ArraySlice<UInt8> {
        guard let range = Self.fileRange(offset: segment.offset, size: segment.fileSize, fileSize: bytes.count) else {
            throw .sectionOutOfBounds(
                section: "segment #\(segment.index)", offset: segment.offset, size: segment.fileSize,
                fileSize: bytes.count)
        }
        return bytes[range]
    }

    /// The NUL-terminated string at `index` in the string table `table`.
    public func string(at index: UInt32, inStringTable table: ELFSection) throws(ELFError) -> String {
        let contents = try stringTableContents(table)
        return try Self.string(at: index, in: contents, tableName: table.displayName)
    }

    /// The byte range `offset..<offset+size` if it lies inside a file of `fileSize` bytes.
    static func fileRange(offset: UInt64, size: UInt64, fileSize: Int) -> Range<Int>? {
        let (end, overflow) = offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(fileSize) else { return nil }
        return Int(offset)..<Int(end)
    }

    /// Checks that `section` is a NUL-terminated string table and returns its contents.
    func stringTableContents(_ section: ELFSection) throws(ELFError) -> ArraySlice<UInt8> {
        guard section.type == .strtab else {
            throw .badSectionType(section: section.displayName, type: section.type, expected: .strtab)
        }
        let contents = try contents(of: section)
        guard contents.isEmpty || contents.last == 0 else {
            throw .unterminatedStringTable(table: section.displayName)
        }
        return contents
    }

    /// The string at `index` in `table`, which ends with a NUL byte (or is empty).
    static func string(at index: UInt32, in table: ArraySlice<UInt8>, tableName: String) throws(ELFError) -> String {
        guard Int(index) < table.count else { throw .badStringIndex(table: tableName, index: index) }
        return table.withUnsafeBufferPointer { buffer in
            let tail = UnsafeBufferPointer(rebasing: buffer[Int(index)...])
            let length = tail.firstIndex(of: 0) ?? tail.count
            return String(decoding: UnsafeBufferPointer(rebasing: tail[..<length]), as: UTF8.self)
        }
    }

    /// The section at `index`, or an error naming `what` referred to it (built only for the error).
    func section(at index: UInt32, referencedBy what: @autoclosure () -> String) throws(ELFError) -> ELFSection {
        guard let section = section(at: Int(index)) else {
            throw .badSectionIndex(what: what(), index: index, sectionCount: sections.count)
        }
        return section
    }
}

// MARK: - Header tables

extension ELFFile {
    private static func tableRange(
        table: String, offset: UInt64, count: Int, entrySize: Int, fileSize: Int
    ) throws(ELFError) -> Int {
        let (length, lengthOverflow) = UInt64(count).multipliedReportingOverflow(by: UInt64(entrySize))
        guard !lengthOverflow, let range = fileRange(offset: offset, size: length, fileSize: fileSize) else {
            throw .tableOutOfBounds(
                table: table, offset: offset, count: UInt64(count), entrySize: entrySize, fileSize: fileSize)
        }
        return range.lowerBound
    }

    static func parseProgramHeaders(header: ELFHeader, reader: ByteReader) throws(ELFError) -> [ELFProgramHeader] {
        let count = header.programHeaderCount
        guard count > 0 else { return [] }
        guard header.programHeaderEntrySize == ELF64Layout.programHeaderSize else {
            throw .badEntrySize(
                section: "program header table (e_phentsize)", entrySize: UInt64(header.programHeaderEntrySize),
                expected: ELF64Layout.programHeaderSize)
        }
        let start = try tableRange(
            table: "program header table", offset: header.programHeaderOffset, count: count,
            entrySize: ELF64Layout.programHeaderSize, fileSize: reader.count)
        var result: [ELFProgramHeader] = []
        result.reserveCapacity(count)
        do throws(ByteReaderError) {
            for index in 0..<count {
                let base = start + index * ELF64Layout.programHeaderSize
                result.append(
                    ELFProgramHeader(
                        index: index,
                        type: ELFSegmentType(rawValue: try reader.readU32(at: base)),
                        flags: ELFSegmentFlags(rawValue: try reader.readU32(at: base + 4)),
                        offset: try reader.readU64(at: base + 8),
                        virtualAddress: try reader.readU64(at: base + 16),
                        physicalAddress: try reader.readU64(at: base + 24),
                        fileSize: try reader.readU64(at: base + 32),
                        memorySize: try reader.readU64(at: base + 40),
                        alignment: try reader.readU64(at: base + 48)))
            }
        } catch {
            throw .truncated("program header table", error)
        }
        return result
    }

    static func parseSections(header: ELFHeader, reader: ByteReader) throws(ELFError) -> [ELFSection] {
        let count = header.sectionHeaderCount
        guard count > 0 else { return [] }
        let start = try tableRange(
            table: "section header table", offset: header.sectionHeaderOffset, count: count,
            entrySize: ELF64Layout.sectionHeaderSize, fileSize: reader.count)

        var raw: [RawSectionHeader] = []
        raw.reserveCapacity(count)
        do throws(ByteReaderError) {
            for index in 0..<count {
                raw.append(try RawSectionHeader(reader: reader, at: start + index * ELF64Layout.sectionHeaderSize))
            }
        } catch {
            throw .truncated("section header table", error)
        }

        var sections = raw.enumerated().map { index, entry in
            ELFSection(
                index: index, name: "", nameIndex: entry.nameIndex, type: ELFSectionType(rawValue: entry.type),
                flags: ELFSectionFlags(rawValue: entry.flags), address: entry.address, offset: entry.offset,
                size: entry.size, link: entry.link, info: entry.info, alignment: entry.alignment,
                entrySize: entry.entrySize)
        }

        let nameTableIndex = header.sectionNameTableIndex
        if nameTableIndex != 0 {
            guard nameTableIndex < count else {
                throw .badSectionIndex(what: "e_shstrndx", index: UInt32(truncatingIfNeeded: nameTableIndex), sectionCount: count)
            }
            let nameTable = sections[nameTableIndex]
            guard nameTable.type == .strtab else {
                throw .badSectionType(section: nameTable.displayName, type: nameTable.type, expected: .strtab)
            }
            guard let range = fileRange(offset: nameTable.offset, size: nameTable.size, fileSize: reader.count) else {
                throw .sectionOutOfBounds(
                    section: "section name table (#\(nameTableIndex))", offset: nameTable.offset, size: nameTable.size,
                    fileSize: reader.count)
            }
            let names = reader.bytes[range]
            guard names.isEmpty || names.last == 0 else {
                throw .unterminatedStringTable(table: "section name table (#\(nameTableIndex))")
            }
            for index in sections.indices {
                // The table's name is made only for an error.
                guard Int(sections[index].nameIndex) < names.count else {
                    throw .badStringIndex(table: "section name table (#\(nameTableIndex))", index: sections[index].nameIndex)
                }
                sections[index].name = try string(at: sections[index].nameIndex, in: names, tableName: "")
            }
        }

        // Fields are read in place: copying each section retains its name.
        for index in sections.indices where sections[index].type != .nobits && sections[index].type != .null {
            guard fileRange(offset: sections[index].offset, size: sections[index].size, fileSize: reader.count) != nil else {
                throw .sectionOutOfBounds(
                    section: sections[index].displayName, offset: sections[index].offset, size: sections[index].size,
                    fileSize: reader.count)
            }
        }
        return sections
    }
}
