// Constants from the ELF specification and the System V ABI (elf.h), as
// RawRepresentable structs: files carry values this list does not name.

/// The kind of an ELF file (`e_type`).
public struct ELFFileType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `ET_NONE`.
    public static let none = ELFFileType(rawValue: 0)
    /// `ET_REL`: a relocatable object, such as a compiled BPF program.
    public static let relocatable = ELFFileType(rawValue: 1)
    /// `ET_EXEC`: an executable at fixed addresses.
    public static let executable = ELFFileType(rawValue: 2)
    /// `ET_DYN`: a shared object or position-independent executable.
    public static let sharedObject = ELFFileType(rawValue: 3)
    /// `ET_CORE`: a core dump.
    public static let core = ELFFileType(rawValue: 4)

    public var description: String {
        switch self {
        case .none: "none"
        case .relocatable: "relocatable"
        case .executable: "executable"
        case .sharedObject: "shared object"
        case .core: "core"
        default: "type \(rawValue)"
        }
    }
}

/// The target architecture of an ELF file (`e_machine`).
public struct ELFMachine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `EM_NONE`.
    public static let none = ELFMachine(rawValue: 0)
    /// `EM_386`.
    public static let i386 = ELFMachine(rawValue: 3)
    /// `EM_PPC64`.
    public static let ppc64 = ELFMachine(rawValue: 21)
    /// `EM_S390`.
    public static let s390 = ELFMachine(rawValue: 22)
    /// `EM_ARM`.
    public static let arm = ELFMachine(rawValue: 40)
    /// `EM_X86_64`.
    public static let x86_64 = ELFMachine(rawValue: 62)
    /// `EM_AARCH64`.
    public static let aarch64 = ELFMachine(rawValue: 183)
    /// `EM_RISCV`.
    public static let riscv = ELFMachine(rawValue: 243)
    /// `EM_BPF`: Linux BPF.
    public static let bpf = ELFMachine(rawValue: 247)
    /// `EM_LOONGARCH`.
    public static let loongarch = ELFMachine(rawValue: 258)

    public var description: String {
        switch self {
        case .none: "none"
        case .i386: "i386"
        case .ppc64: "ppc64"
        case .s390: "s390"
        case .arm: "arm"
        case .x86_64: "x86_64"
        case .aarch64: "aarch64"
        case .riscv: "riscv"
        case .bpf: "bpf"
        case .loongarch: "loongarch"
        default: "machine \(rawValue)"
        }
    }
}

/// The kind of a section (`sh_type`).
public struct ELFSectionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `SHT_NULL`: an unused section header, such as index 0.
    public static let null = ELFSectionType(rawValue: 0)
    /// `SHT_PROGBITS`: bytes defined by the program (code, data).
    public static let progbits = ELFSectionType(rawValue: 1)
    /// `SHT_SYMTAB`: the static symbol table.
    public static let symtab = ELFSectionType(rawValue: 2)
    /// `SHT_STRTAB`: a string table.
    public static let strtab = ELFSectionType(rawValue: 3)
    /// `SHT_RELA`: relocations with explicit addends.
    public static let rela = ELFSectionType(rawValue: 4)
    /// `SHT_HASH`: a symbol hash table.
    public static let hash = ELFSectionType(rawValue: 5)
    /// `SHT_DYNAMIC`: dynamic linking information.
    public static let dynamic = ELFSectionType(rawValue: 6)
    /// `SHT_NOTE`: notes.
    public static let note = ELFSectionType(rawValue: 7)
    /// `SHT_NOBITS`: occupies no file space (`.bss`).
    public static let nobits = ELFSectionType(rawValue: 8)
    /// `SHT_REL`: relocations without explicit addends.
    public static let rel = ELFSectionType(rawValue: 9)
    /// `SHT_SHLIB`: reserved.
    public static let shlib = ELFSectionType(rawValue: 10)
    /// `SHT_DYNSYM`: the dynamic symbol table.
    public static let dynsym = ELFSectionType(rawValue: 11)
    /// `SHT_INIT_ARRAY`.
    public static let initArray = ELFSectionType(rawValue: 14)
    /// `SHT_FINI_ARRAY`.
    public static let finiArray = ELFSectionType(rawValue: 15)
    /// `SHT_PREINIT_ARRAY`.
    public static let preinitArray = ELFSectionType(rawValue: 16)
    /// `SHT_GROUP`: a section group.
    public static let group = ELFSectionType(rawValue: 17)
    /// `SHT_SYMTAB_SHNDX`: extended section indices of a symbol table.
    public static let symtabSectionIndices = ELFSectionType(rawValue: 18)
    /// `SHT_LLVM_ADDRSIG`: LLVM's address-significance table.
    public static let llvmAddrsig = ELFSectionType(rawValue: 0x6FFF_4C03)
    /// `SHT_GNU_HASH`.
    public static let gnuHash = ELFSectionType(rawValue: 0x6FFF_FFF6)
    /// `SHT_GNU_verdef`.
    public static let gnuVersionDefinitions = ELFSectionType(rawValue: 0x6FFF_FFFD)
    /// `SHT_GNU_verneed`.
    public static let gnuVersionNeeds = ELFSectionType(rawValue: 0x6FFF_FFFE)
    /// `SHT_GNU_versym`.
    public static let gnuVersionSymbols = ELFSectionType(rawValue: 0x6FFF_FFFF)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .progbits: "PROGBITS"
        case .symtab: "SYMTAB"
        case .strtab: "STRTAB"
        case .rela: "RELA"
        case .hash: "HASH"
        case .dynamic: "DYNAMIC"
        case .note: "NOTE"
        case .nobits: "NOBITS"
        case .rel: "REL"
        case .shlib: "SHLIB"
        case .dynsym: "DYNSYM"
        case .initArray: "INIT_ARRAY"
        case .finiArray: "FINI_ARRAY"
        case .preinitArray: "PREINIT_ARRAY"
        case .group: "GROUP"
        case .symtabSectionIndices: "SYMTAB_SHNDX"
        case .llvmAddrsig: "LLVM_ADDRSIG"
        case .gnuHash: "GNU_HASH"
        case .gnuVersionDefinitions: "GNU_verdef"
        case .gnuVersionNeeds: "GNU_verneed"
        case .gnuVersionSymbols: "GNU_versym"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// Section attributes (`sh_flags`).
public struct ELFSectionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `SHF_WRITE`: writable at run time.
    public static let write = ELFSectionFlags(rawValue: 0x1)
    /// `SHF_ALLOC`: occupies memory at run time.
    public static let alloc = ELFSectionFlags(rawValue: 0x2)
    /// `SHF_EXECINSTR`: holds instructions.
    public static let execinstr = ELFSectionFlags(rawValue: 0x4)
    /// `SHF_MERGE`: elements may be merged.
    public static let merge = ELFSectionFlags(rawValue: 0x10)
    /// `SHF_STRINGS`: holds NUL-terminated strings.
    public static let strings = ELFSectionFlags(rawValue: 0x20)
    /// `SHF_INFO_LINK`: `sh_info` holds a section index.
    public static let infoLink = ELFSectionFlags(rawValue: 0x40)
    /// `SHF_LINK_ORDER`.
    public static let linkOrder = ELFSectionFlags(rawValue: 0x80)
    /// `SHF_OS_NONCONFORMING`.
    public static let osNonconforming = ELFSectionFlags(rawValue: 0x100)
    /// `SHF_GROUP`: member of a section group.
    public static let group = ELFSectionFlags(rawValue: 0x200)
    /// `SHF_TLS`: thread-local storage.
    public static let tls = ELFSectionFlags(rawValue: 0x400)
    /// `SHF_COMPRESSED`: contents start with a compression header.
    public static let compressed = ELFSectionFlags(rawValue: 0x800)
    /// `SHF_GNU_RETAIN`: kept by the linker's garbage collection.
    public static let gnuRetain = ELFSectionFlags(rawValue: 0x20_0000)
    /// `SHF_EXCLUDE`: left out of linked output.
    public static let exclude = ELFSectionFlags(rawValue: 0x8000_0000)
}

/// The kind of a segment (`p_type`).
public struct ELFSegmentType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `PT_NULL`.
    public static let null = ELFSegmentType(rawValue: 0)
    /// `PT_LOAD`: mapped into memory.
    public static let load = ELFSegmentType(rawValue: 1)
    /// `PT_DYNAMIC`: dynamic linking information.
    public static let dynamic = ELFSegmentType(rawValue: 2)
    /// `PT_INTERP`: the path of the program interpreter.
    public static let interpreter = ELFSegmentType(rawValue: 3)
    /// `PT_NOTE`: notes.
    public static let note = ELFSegmentType(rawValue: 4)
    /// `PT_SHLIB`: reserved.
    public static let shlib = ELFSegmentType(rawValue: 5)
    /// `PT_PHDR`: the program header table itself.
    public static let programHeaders = ELFSegmentType(rawValue: 6)
    /// `PT_TLS`: the thread-local storage template.
    public static let tls = ELFSegmentType(rawValue: 7)
    /// `PT_GNU_EH_FRAME`.
    public static let gnuEHFrame = ELFSegmentType(rawValue: 0x6474_E550)
    /// `PT_GNU_STACK`: stack permissions.
    public static let gnuStack = ELFSegmentType(rawValue: 0x6474_E551)
    /// `PT_GNU_RELRO`: read-only after relocation.
    public static let gnuRelro = ELFSegmentType(rawValue: 0x6474_E552)
    /// `PT_GNU_PROPERTY`.
    public static let gnuProperty = ELFSegmentType(rawValue: 0x6474_E553)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .load: "LOAD"
        case .dynamic: "DYNAMIC"
        case .interpreter: "INTERP"
        case .note: "NOTE"
        case .shlib: "SHLIB"
        case .programHeaders: "PHDR"
        case .tls: "TLS"
        case .gnuEHFrame: "GNU_EH_FRAME"
        case .gnuStack: "GNU_STACK"
        case .gnuRelro: "GNU_RELRO"
        case .gnuProperty: "GNU_PROPERTY"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// Segment permissions (`p_flags`).
public struct ELFSegmentFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `PF_X`.
    public static let execute = ELFSegmentFlags(rawValue: 0x1)
    /// `PF_W`.
    public static let write = ELFSegmentFlags(rawValue: 0x2)
    /// `PF_R`.
    public static let read = ELFSegmentFlags(rawValue: 0x4)
}

/// A symbol's linkage (`ELF64_ST_BIND(st_info)`).
public struct ELFSymbolBinding: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `STB_LOCAL`: visible only inside the object.
    public static let local = ELFSymbolBinding(rawValue: 0)
    /// `STB_GLOBAL`: visible to every object being combined.
    public static let global = ELFSymbolBinding(rawValue: 1)
    /// `STB_WEAK`: global, with lower precedence.
    public static let weak = ELFSymbolBinding(rawValue: 2)
    /// `STB_GNU_UNIQUE`.
    public static let gnuUnique = ELFSymbolBinding(rawValue: 10)

    public var description: String {
        switch self {
        case .local: "local"
        case .global: "global"
        case .weak: "weak"
        case .gnuUnique: "unique"
        default: "binding \(rawValue)"
        }
    }
}

/// What a symbol names (`ELF64_ST_TYPE(st_info)`).
public struct ELFSymbolKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `STT_NOTYPE`.
    public static let notype = ELFSymbolKind(rawValue: 0)
    /// `STT_OBJECT`: a data object such as a variable or a map.
    public static let object = ELFSymbolKind(rawValue: 1)
    /// `STT_FUNC`: a function.
    public static let `func` = ELFSymbolKind(rawValue: 2)
    /// `STT_FUNC`: a function; the same value as ``func``.
    public static let function = ELFSymbolKind(rawValue: 2)
    /// `STT_SECTION`: a section, for relocations against it.
    public static let section = ELFSymbolKind(rawValue: 3)
    /// `STT_FILE`: the source file name.
    public static let file = ELFSymbolKind(rawValue: 4)
    /// `STT_COMMON`: an uninitialised common block.
    public static let common = ELFSymbolKind(rawValue: 5)
    /// `STT_TLS`: a thread-local object.
    public static let tls = ELFSymbolKind(rawValue: 6)
    /// `STT_GNU_IFUNC`: an indirect function.
    public static let gnuIndirectFunction = ELFSymbolKind(rawValue: 10)

    public var description: String {
        switch self {
        case .notype: "notype"
        case .object: "object"
        case .func: "func"
        case .section: "section"
        case .file: "file"
        case .common: "common"
        case .tls: "tls"
        case .gnuIndirectFunction: "ifunc"
        default: "kind \(rawValue)"
        }
    }
}

/// A symbol's visibility (`ELF64_ST_VISIBILITY(st_other)`).
public struct ELFSymbolVisibility: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `STV_DEFAULT`.
    public static let `default` = ELFSymbolVisibility(rawValue: 0)
    /// `STV_INTERNAL`.
    public static let `internal` = ELFSymbolVisibility(rawValue: 1)
    /// `STV_HIDDEN`.
    public static let hidden = ELFSymbolVisibility(rawValue: 2)
    /// `STV_PROTECTED`.
    public static let protected = ELFSymbolVisibility(rawValue: 3)

    public var description: String {
        switch self {
        case .default: "default"
        case .internal: "internal"
        case .hidden: "hidden"
        case .protected: "protected"
        default: "visibility \(rawValue)"
        }
    }
}

/// Reserved section indices (`SHN_*`) as they appear in `st_shndx` and `e_shstrndx`.
public enum ELFSpecialSectionIndex {
    /// `SHN_UNDEF`: undefined, or no section.
    public static let undefined: UInt16 = 0
    /// `SHN_LORESERVE`: the first reserved index.
    public static let lowReserve: UInt16 = 0xFF00
    /// `SHN_ABS`: an absolute value, not relative to a section.
    public static let absolute: UInt16 = 0xFFF1
    /// `SHN_COMMON`: a common block.
    public static let common: UInt16 = 0xFFF2
    /// `SHN_XINDEX`: the real index is stored elsewhere (section 0 or `SHT_SYMTAB_SHNDX`).
    public static let extended: UInt16 = 0xFFFF
}
