import EBPFASM
import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension CollectionSpec {
    /// Reads a BPF object file (as clang writes it) into a spec. Needs no privileges and makes no
    /// syscalls besides reading the file.
    ///
    /// ```swift
    /// let spec = try CollectionSpec(elfFile: "counter.bpf.o")
    /// print(spec.programs.keys, spec.maps.keys)
    /// ```
    public init(elfFile path: String) throws(BPFObjectError) {
        try self.init(object: try BPFObjectFile(path: path))
    }

    /// Reads a BPF object from its bytes into a spec.
    public init(elfBytes bytes: [UInt8]) throws(BPFObjectError) {
        try self.init(object: try BPFObjectFile(bytes: bytes))
    }

    /// Reads an already opened BPF object into a spec.
    public init(object: BPFObjectFile) throws(BPFObjectError) {
        var reader = ObjectReader(object: object)
        self = try reader.read()
    }
}

/// What a section of the object holds, as far as the reader cares.
enum SectionKind: Equatable {
    case code
    case legacyMaps
    case btfMaps
    case data(readOnly: Bool)
    case structOps
    /// `.addr_space.1`: `__arena` globals, which live in the object's arena map.
    case arenaGlobals
}

/// The object reader: one context over a fixed order of phases (license, version, BTF and
/// `.BTF.ext`, symbols, relocations, maps, BTF maps, data sections, arena globals, kconfig, ksyms,
/// struct_ops, programs), each adding to the spec what it finds. License and version were read by
/// ``BPFObjectFile``.
struct ObjectReader {
    let object: BPFObjectFile
    let elf: ELFFile
    let byteOrder: ByteOrder
    /// The symbol table, index 0 being the null symbol.
    var symbols: [ELFSymbol] = []
    /// Named, non-section symbols of each section, sorted by offset; code sections leave out
    /// local labels, which name no function.
    var symbolsBySection: PerSection<[ELFSymbol]>
    /// Function names of each code section by their byte offset.
    var functionsBySection: PerSection<FunctionTable>
    /// Relocations by the index of the section they apply to.
    var relocationsBySection: PerSection<[ELFRelocation]>
    var kinds: PerSection<SectionKind>
    /// The name of each map (legacy or BTF-defined) by its section and byte offset, for
    /// references through a section symbol (static maps).
    var legacyMapOffsets: PerSection<[UInt64: String]>
    var spec: CollectionSpec
    /// The object's BTF and `.BTF.ext`, when it has them.
    var types: BTFSpec?
    var ext: BTFExtSections?
    /// Where in `ext`'s section names the next code section is looked for first: clang writes them
    /// in the order of the code sections, so this usually hits without hashing a name.
    var extCursor = 0
    /// `ext`'s section numbers by name, built at the first miss of `extCursor`.
    var extIndex: [String: Int]?
    /// Offsets of the `.kconfig` externs in the `.kconfig` map.
    var kconfigOffsets: [String: UInt32] = [:]
    /// The struct_ops member each program of a struct_ops map fills, by program name.
    var structOpsMembers: [String: String] = [:]
    /// The arena map that holds the `__arena` globals, once ``readArenaGlobals()`` found it.
    var arenaMapName: String?
    /// The reference each relocated instruction gets, by the index of the symbol it relocates
    /// against, so the instructions naming one map share one box.
    var sharedReferences: [SharedSymbolReference?] = []

    /// The largest data-section map value this reader builds: 64 MiB, well above the kernel's
    /// limit for an array map's value (`KMALLOC_MAX_SIZE`, 4 MiB with 4 KiB pages). A `.bss`
    /// header claiming more would otherwise make a tiny file allocate gigabytes.
    static let maximumDataSize: UInt64 = 64 << 20

    init(object: BPFObjectFile) {
        self.object = object
        self.elf = object.elf
        self.byteOrder = object.elf.header.byteOrder == .littleEndian ? .littleEndian : .bigEndian
        self.spec = CollectionSpec(byteOrder: byteOrder)
        let sectionCount = object.elf.sections.count
        symbolsBySection = PerSection(count: sectionCount)
        functionsBySection = PerSection(count: sectionCount)
        relocationsBySection = PerSection(count: sectionCount)
        kinds = PerSection(count: sectionCount)
        legacyMapOffsets = PerSection(count: sectionCount)
    }

    mutating func read() throws(BPFObjectError) -> CollectionSpec {
        classifySections()
        try readBTF()
        try readSymbols()
        try readRelocations()
        try readLegacyMaps()
        try readBTFMaps()
        try readDataSections()
        try readArenaGlobals()
        try readKconfig()
        try readKsyms()
        try readStructOps()
        try readPrograms()
        return spec
    }

    // MARK: - Sections

    mutating func classifySections() {
        // Sections are visited by index: copying each one retains its name.
        for index in elf.sections.indices {
            let name = elf.sections[index].name
            let section = (type: elf.sections[index].type, flags: elf.sections[index].flags, index: index)
            // Comparing lengths first keeps a hundred sections from costing a thousand string compares.
            let length = name.utf8.count
            if (length == 4 && name == "maps") || (length > 5 && name.hasPrefix("maps/")) {
                kinds[section.index] = .legacyMaps
            } else if length == 5 && name == ".maps" {
                kinds[section.index] = .btfMaps
            } else if (length == 11 && name == ".struct_ops") || (length == 16 && name == ".struct_ops.link") {
                kinds[section.index] = .structOps
            } else if length == 13 && name == CollectionSpec.arenaGlobalsSection
                && (section.type == .progbits || section.type == .nobits)
            {
                kinds[section.index] = .arenaGlobals
            } else if section.type == .progbits && section.flags.contains(.execinstr) {
                kinds[section.index] = .code
            } else if section.type == .progbits && Self.hasDataName(name, ".data") {
                kinds[section.index] = .data(readOnly: false)
            } else if section.type == .progbits && Self.hasDataName(name, ".rodata") {
                kinds[section.index] = .data(readOnly: true)
            } else if section.type == .nobits && Self.hasDataName(name, ".bss") {
                kinds[section.index] = .data(readOnly: false)
            }
        }
    }

    /// `base` itself or `base.anything`, as libbpf recognises data sections.
    static func hasDataName(_ name: String, _ base: String) -> Bool {
        name == base || name.hasPrefix(base + ".")
    }

    func contents(of section: ELFSection) throws(BPFObjectError) -> ArraySlice<UInt8> {
        do {
            return try elf.contents(of: section)
        } catch {
            throw .elf(error)
        }
    }

    // MARK: - Symbols

    mutating func readSymbols() throws(BPFObjectError) {
        do {
            symbols = try elf.symbols()
        } catch {
            throw .elf(error)
        }
        // Collected in plain arrays and stored once: symbols are read in place, since copying one
        // retains its name.
        let sectionCount = elf.sections.count
        var kept = [[ELFSymbol]](repeating: [], count: sectionCount)
        try symbols.withUnsafeBufferPointer { (table) throws(BPFObjectError) in
            // Counted first so that each list is allocated once.
            var counts = [Int](repeating: 0, count: sectionCount)
            for position in table.indices.dropFirst() {
                if let sectionIndex = table[position].section, sectionIndex < sectionCount { counts[sectionIndex] += 1 }
            }
            for sectionIndex in 0..<sectionCount where counts[sectionIndex] > 0 && kinds[sectionIndex] != nil {
                kept[sectionIndex].reserveCapacity(counts[sectionIndex])
            }
            for position in table.indices.dropFirst() {
                guard let sectionIndex = table[position].section, sectionIndex < sectionCount,
                    let kind = kinds[sectionIndex]
                else { continue }
                let symbolKind = table[position].kind
                guard symbolKind != .section, symbolKind != .file else { continue }
                let value = table[position].value
                let (end, overflow) = value.addingReportingOverflow(table[position].size)
                guard !overflow, end <= elf.sections[sectionIndex].size else {
                    throw .symbolOutOfBounds(
                        section: elf.sections[sectionIndex].displayName, symbol: table[position].name, offset: value,
                        size: table[position].size)
                }
                if kind == .code {
                    let isFunction = Self.namesFunction(table[position])
                    if isFunction && value % UInt64(Instruction.slotSize) != 0 {
                        throw .misalignedFunction(
                            section: elf.sections[sectionIndex].displayName, symbol: table[position].name, offset: value)
                    }
                    // Local labels (clang's jump targets, most symbols of a big object) name no
                    // function and are neither global nor hidden: nothing reads them.
                    if !isFunction && table[position].binding == .local { continue }
                }
                kept[sectionIndex].append(table[position])
            }
        }
        for sectionIndex in 0..<sectionCount where !kept[sectionIndex].isEmpty {
            kept[sectionIndex].sort { ($0.value, $0.index) < ($1.value, $1.index) }
            if kinds[sectionIndex] == .code {
                let functions = FunctionTable(sortedSymbols: kept[sectionIndex])
                if !functions.isEmpty { functionsBySection[sectionIndex] = functions }
            }
            symbolsBySection[sectionIndex] = kept[sectionIndex]
        }
    }

    /// Whether a symbol of a code section names a function. clang before 8 gives functions
    /// STT_NOTYPE symbols; as cilium/ebpf does, a global or weak one in a code section is a
    /// function. Local ones are jump labels.
    static func namesFunction(_ symbol: ELFSymbol) -> Bool {
        symbol.kind == .function || (symbol.kind == .notype && symbol.binding != .local && !symbol.name.isEmpty)
    }

    // MARK: - Relocations

    mutating func readRelocations() throws(BPFObjectError) {
        // Sections are visited by index: copying each one retains its name.
        for index in elf.sections.indices where elf.sections[index].type == .rel || elf.sections[index].type == .rela {
            do {
                let section = elf.sections[index]
                guard let target = try elf.relocationTarget(of: section)?.index, kinds[target] != nil else { continue }
                let relocations = try elf.relocations(in: section)
                // The usual one relocation section per target is moved in rather than appended.
                if relocationsBySection[target] == nil {
                    relocationsBySection[target] = relocations
                } else {
                    relocationsBySection[target, default: []].append(contentsOf: relocations)
                }
            } catch {
                throw .elf(error)
            }
        }
    }

    /// The symbol a relocation names, checked against the table this reader loaded.
    func symbol(of relocation: ELFRelocation, in section: ELFSection) throws(BPFObjectError) -> ELFSymbol {
        let index = Int(relocation.symbolIndex)
        guard index > 0, index < symbols.count else {
            throw .unsupportedRelocation(
                section: section.displayName, offset: relocation.offset, symbol: "#\(index)",
                reason: "not a symbol of the symbol table")
        }
        return symbols[index]
    }

    /// A name for a symbol in messages: its own, or its section's for section symbols.
    func displayName(of symbol: ELFSymbol) -> String {
        if !symbol.name.isEmpty { return symbol.name }
        if let section = symbol.section, section < elf.sections.count { return elf.sections[section].displayName }
        return "symbol #\(symbol.index)"
    }

    /// The shared reference to `name` for instructions relocated against symbol `index`.
    mutating func sharedReference(_ name: String, symbol index: Int) -> SharedSymbolReference {
        if index < sharedReferences.count, let shared = sharedReferences[index], shared.name == name { return shared }
        let shared = SharedSymbolReference(name)
        if sharedReferences.count != symbols.count { sharedReferences = Array(repeating: nil, count: symbols.count) }
        if index >= 0, index < sharedReferences.count { sharedReferences[index] = shared }
        return shared
    }

    mutating func addMap(_ map: MapSpec) throws(BPFObjectError) {
        guard spec.maps[map.name] == nil else { throw .duplicateName(kind: "map", name: map.name) }
        spec.maps[map.name] = map
    }
}

/// One optional value per section of the object, indexed by section index: lookups happen for
/// every symbol, relocation and instruction reference, and a dense array beats hashing.
struct PerSection<Value> {
    private var values: [Value?]

    init(count: Int) {
        values = Array(repeating: nil, count: count)
    }

    /// The section indices.
    var indices: Range<Int> { values.indices }

    /// The value of section `index`; nil for sections without one and for indices outside the
    /// table, where setting a value does nothing (indices come from the ELF reader, which checked them).
    subscript(index: Int) -> Value? {
        get { values.indices.contains(index) ? values[index] : nil }
        _modify {
            if values.indices.contains(index) {
                yield &values[index]
            } else {
                var outside: Value? = nil
                yield &outside
            }
        }
    }

    subscript(index: Int, default defaultValue: @autoclosure () -> Value) -> Value {
        get { self[index] ?? defaultValue() }
        _modify {
            // Moved out and back so that the stored value stays uniquely referenced while modified.
            var value = self[index].take() ?? defaultValue()
            defer { self[index] = value }
            yield &value
        }
    }
}

/// The functions of one code section: a name per byte offset, in offset order. A sorted array
/// rather than a dictionary: it is built from symbols already sorted, and read in order.
struct FunctionTable {
    /// The offsets, ascending, each once.
    private(set) var offsets: [UInt64] = []
    /// The name of the function at each offset (same index).
    private(set) var names: [String] = []

    /// The functions among `symbols`, which are sorted by offset, then by index in the symbol
    /// table: one name per offset, that of the first STT_FUNC symbol there, else of the first
    /// STT_NOTYPE one.
    init(sortedSymbols symbols: [ELFSymbol]) {
        symbols.withUnsafeBufferPointer { buffer in
            var position = 0
            while position < buffer.count {
                let offset = buffer[position].value
                var chosen: Int?
                var firstUntyped: Int?
                while position < buffer.count, buffer[position].value == offset {
                    if chosen == nil, ObjectReader.namesFunction(buffer[position]) {
                        if buffer[position].kind == .function {
                            chosen = position
                        } else if firstUntyped == nil {
                            firstUntyped = position
                        }
                    }
                    position += 1
                }
                if let pick = chosen ?? firstUntyped {
                    offsets.append(offset)
                    names.append(buffer[pick].name)
                }
            }
        }
    }

    var count: Int { offsets.count }
    var isEmpty: Bool { offsets.isEmpty }

    /// The function starting at byte `offset`.
    subscript(offset: UInt64) -> String? {
        var low = 0
        var high = offsets.count
        while low < high {
            let middle = (low + high) / 2
            if offsets[middle] < offset { low = middle + 1 } else { high = middle }
        }
        return low < offsets.count && offsets[low] == offset ? names[low] : nil
    }

    /// The functions starting below byte `end`, in offset order.
    func entries(below end: UInt64) -> [(key: UInt64, value: String)] {
        var result: [(key: UInt64, value: String)] = []
        result.reserveCapacity(offsets.count)
        for index in offsets.indices where offsets[index] < end { result.append((offsets[index], names[index])) }
        return result
    }
}
