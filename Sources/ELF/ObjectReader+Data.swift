import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Turns `.data`, `.rodata`, `.bss` and their custom `.data.*`, `.rodata.*` (including string
    /// sections such as `.rodata.str1.1`) and `.bss.*` variants into single-entry array maps named
    /// after the section, holding the section's bytes, and each object symbol in them into a
    /// ``VariableSpec``.
    ///
    /// Flags follow libbpf at open time: read-only sections get `BPF_F_RDONLY_PROG` (and are frozen
    /// after their contents are written); a section with at least one variable visible outside
    /// its compilation unit gets `BPF_F_MMAPABLE`. Empty sections make no map. libbpf names these
    /// maps with a prefix of the object's name (`counter.rodata`); here they keep the section's
    /// name.
    mutating func readDataSections() throws(BPFObjectError) {
        // Sections are visited by index: copying each one retains its name.
        for sectionIndex in elf.sections.indices {
            guard case .data(let readOnly) = kinds[sectionIndex], elf.sections[sectionIndex].size > 0 else { continue }
            let section = elf.sections[sectionIndex]
            guard section.size <= Self.maximumDataSize else {
                throw .dataTooLarge(section: section.displayName, size: section.size, limit: Self.maximumDataSize)
            }
            let value: [UInt8] =
                section.type == .nobits ? [UInt8](repeating: 0, count: Int(section.size)) : Array(try contents(of: section))
            // Names starting with a dot are compiler-internal (clang 9 to 11 named anonymous constants
            // `.L...`); C variables cannot have them, and cilium/ebpf skips them too.
            let variables = (symbolsBySection[section.index] ?? []).filter {
                $0.kind == .object && !$0.name.isEmpty && !$0.name.hasPrefix(".")
            }
            let btfSection = try dataSection(named: section.name)
            var typesByName: [String: BTFTypeID] = [:]
            for info in btfSection?.variables ?? [] {
                if case .variable(let variable) = try btfType(info.type) { typesByName[variable.name] = variable.type }
            }
            var flags: MapFlags = readOnly ? [.readOnlyProgram] : []
            if variables.contains(where: { $0.binding != .local }) { flags.insert(.mmapable) }
            try addMap(
                MapSpec(
                    name: section.name, type: .array, keySize: 4, valueSize: UInt32(section.size), maxEntries: 1,
                    flags: flags, contents: [MapEntry(key: [0, 0, 0, 0], value: .bytes(value))], freeze: readOnly,
                    valueType: btfSection == nil ? nil : types?.typeID(named: section.name, kind: .dataSection)))
            for symbol in variables {
                guard spec.variables[symbol.name] == nil else { throw .duplicateName(kind: "variable", name: symbol.name) }
                // readSymbols checked that the symbol lies inside the section, whose size fits UInt32.
                spec.variables[symbol.name] = VariableSpec(
                    name: symbol.name, mapName: section.name, offset: UInt32(symbol.value), size: UInt32(symbol.size),
                    isReadOnly: readOnly, typeID: typesByName[symbol.name])
            }
        }
    }
}
