import EBPFASM
import EBPFBTF
import EBPFELFFile

/// Why a file is not a usable BPF object. Each case names the section and, where there is one, the
/// symbol or byte offset (within the section) of the problem.
public enum BPFObjectError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The ELF layer rejected the file.
    case elf(ELFError)
    /// The ELF machine is not `EM_BPF` (247).
    case notBPF(machine: UInt16)
    /// The ELF type is not `ET_REL`: BPF objects are relocatable files.
    case notRelocatable(type: UInt16)
    /// The `license` section has no terminating NUL.
    case unterminatedLicense
    /// The `version` section is not 4 bytes long.
    case badVersionSize(Int)
    /// A section's contents do not hold what was read from them.
    case truncated(section: String, offset: UInt64, needed: UInt64)
    /// A symbol lies (partly) outside its section.
    case symbolOutOfBounds(section: String, symbol: String, offset: UInt64, size: UInt64)
    /// A legacy map definition has a size this reader does not know how to read.
    case unsupportedMapDefinition(section: String, symbol: String, size: UInt64)
    /// An iproute2 map names an inner map id that no map in the section has.
    case unknownInnerMap(section: String, symbol: String, innerID: UInt32)
    /// Two maps, programs or variables have the same name.
    case duplicateName(kind: String, name: String)
    /// A code section's instructions do not decode.
    case instructions(section: String, InstructionDecodingError)
    /// A code section starts with instructions that belong to no function symbol.
    case codeWithoutFunction(section: String, offset: UInt64)
    /// A function symbol does not start at an instruction boundary of its section.
    case misalignedFunction(section: String, symbol: String, offset: UInt64)
    /// A relocation does not point at the start of an instruction of its section.
    case badRelocationOffset(section: String, offset: UInt64)
    /// A relocation's type is not one clang emits for BPF code (`R_BPF_64_64`, `R_BPF_64_32`).
    case unsupportedRelocationType(section: String, offset: UInt64, type: UInt32)
    /// A relocation applies to an instruction that cannot take it (a map reference on something
    /// other than `lddw`, ...).
    case unsupportedRelocation(section: String, offset: UInt64, symbol: String, reason: String)
    /// A call or function address does not land on a function in the target section.
    case callTargetNotFound(section: String, offset: UInt64, targetSection: String, targetOffset: Int64)
    /// A data section (`.bss`, whose size costs no file space) or the `.kconfig` layout is larger
    /// than the object reader's limit (`ObjectReader.maximumDataSize`), far beyond what the
    /// kernel accepts for a map value.
    case dataTooLarge(section: String, size: UInt64, limit: UInt64)
    /// The `.BTF` section does not parse.
    case btf(BTFError)
    /// The `.BTF.ext` section does not parse.
    case btfExt(BTFExtError)
    /// A section needs BTF (`.maps`, `.struct_ops`, externs in `.kconfig`) and the object has none,
    /// or its BTF has no `DATASEC` for it.
    case missingBTF(section: String)
    /// A BTF-defined map's definition is not one libbpf accepts; `member` is the attribute
    /// (`type`, `key`, `values`, ...) or empty for the definition as a whole.
    case badMapDefinition(map: String, member: String, reason: String)
    /// A `.kconfig` or `.ksyms` extern is not declared as libbpf requires.
    case badExtern(section: String, symbol: String, reason: String)
    /// A reference into a data section points outside it.
    case dataReferenceOutOfBounds(section: String, offset: UInt64, dataSection: String, dataOffset: UInt64)
    /// The object has `__arena` globals (`section`, `.addr_space.1`; `symbol` is the first) but
    /// no arena map (`BPF_MAP_TYPE_ARENA`) in `.maps` to hold them.
    case arenaGlobalsWithoutArena(section: String, symbol: String)
    /// The object has `__arena` globals and more than one arena map, so which arena holds them
    /// is ambiguous (libbpf allows one arena per object).
    case ambiguousArena(section: String, maps: [String])
    /// The `__arena` globals do not fit the arena: `size` bytes against `arenaSize`, the arena's
    /// `max_entries` pages of 4 KiB (the smallest page size; larger pages are checked at load).
    case arenaGlobalsTooLarge(section: String, map: String, size: UInt64, arenaSize: UInt64)

    public var description: String {
        switch self {
        case .elf(let error): "\(error)"
        case .notBPF(let machine): "not a BPF object: ELF machine is \(machine), expected 247 (EM_BPF)"
        case .notRelocatable(let type): "not a BPF object: ELF type is \(type), expected 1 (ET_REL)"
        case .unterminatedLicense: "section 'license': missing terminating NUL"
        case .badVersionSize(let size): "section 'version': \(size) bytes, expected 4"
        case .truncated(let section, let offset, let needed):
            "section '\(section)': offset \(offset): \(needed) bytes needed beyond the end"
        case .symbolOutOfBounds(let section, let symbol, let offset, let size):
            "section '\(section)': symbol '\(symbol)' at offset \(offset) with size \(size) lies outside the section"
        case .unsupportedMapDefinition(let section, let symbol, let size):
            "section '\(section)': map '\(symbol)': a \(size)-byte definition is neither bpf_map_def nor iproute2's bpf_elf_map"
        case .unknownInnerMap(let section, let symbol, let innerID):
            "section '\(section)': map '\(symbol)': no map with id \(innerID) for its inner map"
        case .duplicateName(let kind, let name): "two \(kind)s named '\(name)'"
        case .instructions(let section, let error): "section '\(section)': \(error)"
        case .codeWithoutFunction(let section, let offset):
            "section '\(section)': offset \(offset): instructions outside any function symbol"
        case .misalignedFunction(let section, let symbol, let offset):
            "section '\(section)': function '\(symbol)' at offset \(offset) does not start an instruction"
        case .badRelocationOffset(let section, let offset):
            "section '\(section)': relocation at offset \(offset) is not at the start of an instruction"
        case .unsupportedRelocationType(let section, let offset, let type):
            "section '\(section)': offset \(offset): relocation type \(type) is not R_BPF_64_64 or R_BPF_64_32"
        case .unsupportedRelocation(let section, let offset, let symbol, let reason):
            "section '\(section)': offset \(offset): relocation against '\(symbol)': \(reason)"
        case .callTargetNotFound(let section, let offset, let targetSection, let targetOffset):
            "section '\(section)': offset \(offset): no function at offset \(targetOffset) of section '\(targetSection)'"
        case .dataTooLarge(let section, let size, let limit):
            "section '\(section)': \(size) bytes, more than the \(limit) this reader accepts for a map value"
        case .btf(let error): "section '.BTF': \(error)"
        case .btfExt(let error): "section '.BTF.ext': \(error)"
        case .missingBTF(let section): "section '\(section)': needs BTF, and the object has no BTF for it"
        case .badMapDefinition(let map, let member, let reason):
            member.isEmpty ? "section '.maps': map '\(map)': \(reason)" : "section '.maps': map '\(map)': '\(member)': \(reason)"
        case .badExtern(let section, let symbol, let reason): "section '\(section)': extern '\(symbol)': \(reason)"
        case .dataReferenceOutOfBounds(let section, let offset, let dataSection, let dataOffset):
            "section '\(section)': offset \(offset): reference to offset \(dataOffset) outside section '\(dataSection)'"
        case .arenaGlobalsWithoutArena(let section, let symbol):
            "section '\(section)': __arena global '\(symbol)' needs an arena map (BPF_MAP_TYPE_ARENA) declared in '.maps'"
        case .ambiguousArena(let section, let maps):
            "section '\(section)': __arena globals with \(maps.count) arena maps (\(maps.map { "'\($0)'" }.joined(separator: ", "))); an object may have only one"
        case .arenaGlobalsTooLarge(let section, let map, let size, let arenaSize):
            "section '\(section)': \(size) bytes of __arena globals do not fit arena '\(map)' of \(arenaSize) bytes"
        }
    }
}
