import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Ties the `__arena` globals of `.addr_space.1` (clang's section for address space 1, which
    /// libbpf's `__arena` selects) to the object's one arena map, as libbpf 1.4 and later do: the
    /// section's bytes become the arena's ``MapSpec/arenaGlobals`` (copied to the start of the
    /// arena at load), each object symbol a ``VariableSpec`` of the arena at its section offset,
    /// and program references to them (``relocate``) data references into the arena.
    ///
    /// Refused, naming the section: globals without an arena map, with more than one, or larger
    /// than the arena. The size check uses 4 KiB pages, the smallest any arena kernel uses, so
    /// the same object gives the same spec everywhere; the loader checks the real page size.
    mutating func readArenaGlobals() throws(BPFObjectError) {
        guard let sectionIndex = elf.sections.indices.first(where: { kinds[$0] == .arenaGlobals }) else { return }
        let section = elf.sections[sectionIndex]
        let globals = (symbolsBySection[section.index] ?? []).filter {
            $0.kind == .object && !$0.name.isEmpty && !$0.name.hasPrefix(".")
        }
        let arenas = spec.maps.values.filter { $0.type == .arena }.map(\.name).sorted()
        guard let arenaName = arenas.first, let arena = spec.maps[arenaName] else {
            throw .arenaGlobalsWithoutArena(section: section.displayName, symbol: globals.first?.name ?? "")
        }
        guard arenas.count == 1 else { throw .ambiguousArena(section: section.displayName, maps: arenas) }
        let arenaSize = UInt64(arena.maxEntries) * Self.smallestPageSize
        guard section.size <= arenaSize else {
            throw .arenaGlobalsTooLarge(
                section: section.displayName, map: arenaName, size: section.size, arenaSize: arenaSize)
        }
        // An arena may be up to 4 GiB, but the reader copies the initial bytes: the same limit as
        // for data sections keeps a tiny file from claiming gigabytes.
        guard section.size <= Self.maximumDataSize else {
            throw .dataTooLarge(section: section.displayName, size: section.size, limit: Self.maximumDataSize)
        }
        arenaMapName = arenaName
        guard section.size > 0 else { return }
        let bytes: [UInt8] =
            section.type == .nobits ? [UInt8](repeating: 0, count: Int(section.size)) : Array(try contents(of: section))
        spec.maps[arenaName]?.contents = [MapEntry(key: [], value: .bytes(bytes))]
        var typesByName: [String: BTFTypeID] = [:]
        for info in try dataSection(named: section.name)?.variables ?? [] {
            if case .variable(let variable) = try btfType(info.type) { typesByName[variable.name] = variable.type }
        }
        for symbol in globals {
            guard spec.variables[symbol.name] == nil else { throw .duplicateName(kind: "variable", name: symbol.name) }
            // readSymbols checked that the symbol lies inside the section, whose size fits UInt32.
            spec.variables[symbol.name] = VariableSpec(
                name: symbol.name, mapName: arenaName, offset: UInt32(symbol.value), size: UInt32(symbol.size),
                isReadOnly: false, typeID: typesByName[symbol.name])
        }
    }

    /// The smallest page size of the architectures with arenas (x86-64, arm64, riscv64, s390x...).
    static let smallestPageSize: UInt64 = 4096
}
