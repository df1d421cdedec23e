/// One note (`Elf64_Nhdr` with its name and descriptor), such as `.note.gnu.build-id`.
public struct ELFNote: Sendable, Hashable {
    /// The owner's name without its terminating NUL, such as `GNU` or `Linux`.
    public var name: String
    /// The owner-specific type (`n_type`), such as `NT_GNU_BUILD_ID` (3).
    public var type: UInt32
    /// The descriptor bytes (`n_descsz` of them, without padding).
    public var descriptor: [UInt8]

    public init(name: String, type: UInt32, descriptor: [UInt8]) {
        self.name = name
        self.type = type
        self.descriptor = descriptor
    }
}

extension ELFFile {
    /// The notes of an `SHT_NOTE` section. Entries are padded to 4 bytes, or to 8 when the
    /// section is 8-byte aligned (as `.note.gnu.property` is on 64-bit targets).
    public func notes(in section: ELFSection) throws(ELFError) -> [ELFNote] {
        guard section.type == .note else {
            throw .badSectionType(section: section.displayName, type: section.type, expected: .note)
        }
        return try Self.parseNotes(
            try contents(of: section), alignment: section.alignment == 8 ? 8 : 4, byteOrder: header.byteOrder,
            where: section.displayName)
    }

    /// The notes of a `PT_NOTE` segment, padded as its alignment says (4 or 8 bytes).
    public func notes(in segment: ELFProgramHeader) throws(ELFError) -> [ELFNote] {
        try Self.parseNotes(
            try contents(of: segment), alignment: segment.alignment == 8 ? 8 : 4, byteOrder: header.byteOrder,
            where: "segment #\(segment.index)")
    }

    static func parseNotes(
        _ contents: ArraySlice<UInt8>, alignment: Int, byteOrder: ELFByteOrder, where location: String
    ) throws(ELFError) -> [ELFNote] {
        let reader = ByteReader(bytes: contents, byteOrder: byteOrder)
        var notes: [ELFNote] = []
        var offset = 0
        while offset < reader.count {
            let nameSize: UInt32, descriptorSize: UInt32, type: UInt32
            do throws(ByteReaderError) {
                try reader.checkBounds(offset: offset, length: ELF64Layout.noteHeaderSize)
                nameSize = try reader.readU32(at: offset)
                descriptorSize = try reader.readU32(at: offset + 4)
                type = try reader.readU32(at: offset + 8)
            } catch {
                throw .truncated("note header in \(location)", error)
            }
            let nameStart = offset + ELF64Layout.noteHeaderSize
            // UInt32 sizes plus an in-bounds offset cannot overflow a 64-bit Int.
            let descriptorStart = align(nameStart + Int(nameSize), to: alignment)
            let descriptorEnd = descriptorStart + Int(descriptorSize)
            guard descriptorEnd <= reader.count else {
                throw .badNote(section: location, offset: offset, nameSize: nameSize, descriptorSize: descriptorSize)
            }
            let base = contents.startIndex
            var nameBytes = contents[(base + nameStart)..<(base + nameStart + Int(nameSize))]
            if let terminator = nameBytes.firstIndex(of: 0) { nameBytes = nameBytes[..<terminator] }
            notes.append(
                ELFNote(
                    name: String(decoding: nameBytes, as: UTF8.self),
                    type: type,
                    descriptor: Array(contents[(base + descriptorStart)..<(base + descriptorEnd)])))
            offset = align(descriptorEnd, to: alignment)
        }
        return notes
    }

    private static func align(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}
