/// One section header (`Elf64_Shdr`) with its name resolved.
public struct ELFSection: Sendable, Hashable {
    /// The section's position in the section header table.
    public var index: Int
    /// The name from the section name string table; empty when the file has none.
    public var name: String
    /// The index of the name in the section name string table (`sh_name`).
    public var nameIndex: UInt32
    /// What the section holds (`sh_type`).
    public var type: ELFSectionType
    /// Attributes (`sh_flags`).
    public var flags: ELFSectionFlags
    /// The address of the first byte in memory, 0 if not allocated (`sh_addr`).
    public var address: UInt64
    /// The file offset of the contents (`sh_offset`).
    public var offset: UInt64
    /// The size in bytes (`sh_size`); for ``ELFSectionType/nobits`` it occupies no file space.
    public var size: UInt64
    /// A related section's index whose meaning depends on the type (`sh_link`).
    public var link: UInt32
    /// Extra information whose meaning depends on the type (`sh_info`); for relocation
    /// sections, the index of the section they apply to.
    public var info: UInt32
    /// The required alignment (`sh_addralign`).
    public var alignment: UInt64
    /// The size of one entry for tables of fixed-size entries, otherwise 0 (`sh_entsize`).
    public var entrySize: UInt64

    /// A name for messages: the section name, or its index when it has none.
    public var displayName: String {
        name.isEmpty ? "section #\(index)" : name
    }
}

/// One program header (`Elf64_Phdr`): a segment of an executable or shared object.
public struct ELFProgramHeader: Sendable, Hashable {
    /// The position in the program header table.
    public var index: Int
    /// The kind of segment (`p_type`).
    public var type: ELFSegmentType
    /// Permissions (`p_flags`).
    public var flags: ELFSegmentFlags
    /// The file offset of the segment (`p_offset`).
    public var offset: UInt64
    /// The virtual address of the segment in memory (`p_vaddr`).
    public var virtualAddress: UInt64
    /// The physical address, where relevant (`p_paddr`).
    public var physicalAddress: UInt64
    /// The number of bytes in the file (`p_filesz`).
    public var fileSize: UInt64
    /// The number of bytes in memory (`p_memsz`).
    public var memorySize: UInt64
    /// The alignment in memory and in the file (`p_align`).
    public var alignment: UInt64
}
