import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Reads the legacy `maps` section: one `struct bpf_map_def` per symbol (type, key size,
    /// value size, max entries and, from 20 bytes, flags), or iproute2's longer `struct
    /// bpf_elf_map` (36 bytes: the same five fields, then id, pinning, inner map id and inner map
    /// index). libbpf 1.x no longer reads this section; cilium/ebpf and iproute2 do.
    mutating func readLegacyMaps() throws(BPFObjectError) {
        for sectionIndex in elf.sections.indices where kinds[sectionIndex] == .legacyMaps {
            let section = elf.sections[sectionIndex]
            let bytes = try contents(of: section)
            let entries = (symbolsBySection[section.index] ?? []).filter { $0.kind == .object || $0.kind == .notype }
            guard !entries.isEmpty else { continue }
            // Hand-written objects may leave st_size 0; then the entries share the section evenly.
            let evenSize = entries.allSatisfy({ $0.size == 0 }) ? section.size / UInt64(entries.count) : 0
            var ids: [UInt32: String] = [:]
            var innerIDs: [(map: String, innerID: UInt32)] = []
            for symbol in entries {
                let size = symbol.size == 0 ? evenSize : symbol.size
                let (end, overflow) = symbol.value.addingReportingOverflow(size)
                guard !overflow, end <= UInt64(bytes.count) else {
                    throw .symbolOutOfBounds(section: section.displayName, symbol: symbol.name, offset: symbol.value, size: size)
                }
                let start = bytes.startIndex + Int(symbol.value)
                let reader = ByteReader(bytes: bytes[start..<(start + Int(size))], byteOrder: elf.header.byteOrder)
                let definition = try legacyDefinition(reader, size: size, section: section, symbol: symbol)
                var map = MapSpec(
                    name: symbol.name, type: MapType(rawValue: definition.fields[0]), keySize: definition.fields[1],
                    valueSize: definition.fields[2], maxEntries: definition.fields[3],
                    flags: MapFlags(rawValue: definition.fields[4]))
                if let elfMap = definition.iproute2 {
                    map.pinning = Self.pinning(iproute2: elfMap.pinning)
                    if elfMap.id != 0 { ids[elfMap.id] = symbol.name }
                    if elfMap.innerID != 0 { innerIDs.append((symbol.name, elfMap.innerID)) }
                }
                try addMap(map)
                legacyMapOffsets[section.index, default: [:]][symbol.value] = symbol.name
            }
            for (name, innerID) in innerIDs {
                guard let innerName = ids[innerID], let inner = spec.maps[innerName] else {
                    throw .unknownInnerMap(section: section.displayName, symbol: name, innerID: innerID)
                }
                spec.maps[name]?.innerMap = inner
            }
        }
    }

    private struct LegacyDefinition {
        /// type, key size, value size, max entries, flags.
        var fields: [UInt32]
        var iproute2: (id: UInt32, pinning: UInt32, innerID: UInt32, innerIndex: UInt32)?
    }

    private func legacyDefinition(
        _ reader: ByteReader, size: UInt64, section: ELFSection, symbol: ELFSymbol
    ) throws(BPFObjectError) -> LegacyDefinition {
        let known: Int
        switch size {
        case 16..<20: known = 16
        case 20..<36: known = 20
        case 36...: known = 36
        default: throw .unsupportedMapDefinition(section: section.displayName, symbol: symbol.name, size: size)
        }
        // Bytes past the layout must be zero: a definition with fields we do not know would
        // otherwise be silently misread.
        guard reader.bytes.dropFirst(known).allSatisfy({ $0 == 0 }) else {
            throw .unsupportedMapDefinition(section: section.displayName, symbol: symbol.name, size: size)
        }
        var words: [UInt32] = []
        for index in 0..<(known / 4) {
            guard let word = try? reader.readU32(at: index * 4) else {
                throw .truncated(section: section.displayName, offset: symbol.value + UInt64(index * 4), needed: 4)
            }
            words.append(word)
        }
        while words.count < 5 { words.append(0) }
        var definition = LegacyDefinition(fields: Array(words[0..<5]))
        if known == 36 {
            definition.iproute2 = (words[5], words[6], words[7], words[8])
        }
        return definition
    }

    /// iproute2's `PIN_GLOBAL_NS` (2) pins by name in the global namespace, which is what
    /// ``MapPinning/byName`` means; its other values (`PIN_OBJECT_NS` and custom ids) have no
    /// libbpf equivalent and are kept as ``MapPinning/iproute2(_:)``.
    static func pinning(iproute2 value: UInt32) -> MapPinning {
        switch value {
        case 0: .none
        case 2: .byName
        default: .iproute2(value)
        }
    }
}
