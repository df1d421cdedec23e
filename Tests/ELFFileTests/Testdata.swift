import EBPFELFFile

/// The testdata directory at the root of the package, found from this file's path.
enum Testdata {
    static let directory: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        // .../Tests/ELFFileTests/Testdata.swift -> ...
        components.removeLast(3)
        return components.joined(separator: "/") + "/testdata"
    }()

    /// The base names of the C sources in testdata, each compiled to `<name>-el.o` and `<name>-eb.o`.
    static let objectNames = [
        "globals", "isa_v3", "isa_v4", "loops", "maps_btf", "maps_legacy", "minimal", "subprog",
    ]

    static func path(_ name: String, _ order: ELFByteOrder) -> String {
        "\(directory)/\(name)-\(order == .littleEndian ? "el" : "eb").o"
    }

    static func load(_ name: String, _ order: ELFByteOrder) throws -> ELFFile {
        try ELFFile(path: path(name, order))
    }
}

/// Builds small ELF64 relocatable files in memory, for tests that need a specific defect.
struct ELFBuilder {
    struct Section {
        var name: String
        var type: ELFSectionType
        var contents: [UInt8] = []
        var flags: UInt64 = 0
        var link: UInt32 = 0
        var info: UInt32 = 0
        var alignment: UInt64 = 1
        var entrySize: UInt64 = 0
        /// Overrides the size written to the header (for `.nobits` or deliberate defects).
        var size: UInt64? = nil
    }

    var byteOrder: ELFByteOrder = .littleEndian
    var machine: ELFMachine = .bpf
    /// Sections after the null section; the builder appends `.shstrtab` at the end.
    var sections: [Section] = []

    /// The index the section at `position` in ``sections`` will have in the file.
    static func fileIndex(_ position: Int) -> UInt32 { UInt32(position + 1) }

    var shstrtabIndex: Int { sections.count + 1 }

    func build() -> [UInt8] {
        var names: [UInt8] = [0]
        var nameOffsets: [UInt32] = []
        for name in sections.map(\.name) + [".shstrtab"] {
            nameOffsets.append(UInt32(names.count))
            names += Array(name.utf8) + [0]
        }
        let all = sections + [Section(name: ".shstrtab", type: .strtab, contents: names)]

        var out = [UInt8](repeating: 0, count: 64)
        var offsets: [UInt64] = []
        for section in all {
            while out.count % 8 != 0 { out.append(0) }
            offsets.append(UInt64(out.count))
            out += section.contents
        }
        while out.count % 8 != 0 { out.append(0) }
        let tableOffset = UInt64(out.count)

        // Section 0, then each section header.
        out += [UInt8](repeating: 0, count: 64)
        for (position, section) in all.enumerated() {
            var entry: [UInt8] = []
            entry += encode(nameOffsets[position])
            entry += encode(section.type.rawValue)
            entry += encode(section.flags)
            entry += encode(UInt64(0))
            entry += encode(offsets[position])
            entry += encode(section.size ?? UInt64(section.contents.count))
            entry += encode(section.link)
            entry += encode(section.info)
            entry += encode(section.alignment)
            entry += encode(section.entrySize)
            out += entry
        }

        var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, byteOrder == .littleEndian ? 1 : 2, 1, 0]
        header += [UInt8](repeating: 0, count: 8)
        header += encode(ELFFileType.relocatable.rawValue)
        header += encode(machine.rawValue)
        header += encode(UInt32(1))
        header += encode(UInt64(0))  // e_entry
        header += encode(UInt64(0))  // e_phoff
        header += encode(tableOffset)
        header += encode(UInt32(0))  // e_flags
        header += encode(UInt16(64))
        header += encode(UInt16(0))  // e_phentsize
        header += encode(UInt16(0))  // e_phnum
        header += encode(UInt16(64))
        header += encode(UInt16(all.count + 1))
        header += encode(UInt16(shstrtabIndex))
        out.replaceSubrange(0..<64, with: header)
        return out
    }

    func encode<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        let ordered = byteOrder == .littleEndian ? value.littleEndian : value.bigEndian
        return withUnsafeBytes(of: ordered) { Array($0) }
    }

    /// A symbol table entry.
    func symbol(name: UInt32, info: UInt8, sectionIndex: UInt16, value: UInt64 = 0, size: UInt64 = 0) -> [UInt8] {
        encode(name) + [info, 0] + encode(sectionIndex) + encode(value) + encode(size)
    }
}

extension Array where Element == UInt8 {
    /// Overwrites bytes at `offset` with `value` in the given byte order.
    mutating func write<T: FixedWidthInteger>(_ value: T, at offset: Int, _ order: ELFByteOrder = .littleEndian) {
        let ordered = order == .littleEndian ? value.littleEndian : value.bigEndian
        let encoded = Swift.withUnsafeBytes(of: ordered) { Array($0) }
        replaceSubrange(offset..<(offset + encoded.count), with: encoded)
    }
}
