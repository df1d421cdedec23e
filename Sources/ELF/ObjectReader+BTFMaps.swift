import EBPFASM
import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Reads the BTF-defined maps of `.maps`: one variable per map whose struct type carries the
    /// attributes as libbpf's `__uint`, `__type` and `__array` macros encode them. `__uint(name, n)`
    /// is a pointer to an array of `n` elements; `__type(name, T)` a pointer to `T`;
    /// `__array(values, T)` a flexible array of pointers to `T`, whose initialiser (relocations in
    /// `.rel.maps`) gives the initial contents of a program array or map of maps.
    mutating func readBTFMaps() throws(BPFObjectError) {
        guard let sectionIndex = elf.sections.indices.first(where: { kinds[$0] == .btfMaps }), elf.sections[sectionIndex].size > 0
        else { return }
        let section = elf.sections[sectionIndex]
        guard types != nil, let dataSection = try dataSection(named: ".maps") else {
            throw .missingBTF(section: section.displayName)
        }
        let symbolsByName = Dictionary(
            (symbolsBySection[section.index] ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var valuesMembers: [(map: String, symbol: ELFSymbol, byteOffset: UInt64, isProgramArray: Bool)] = []
        for info in dataSection.variables {
            guard case .variable(let variable) = try btfType(info.type) else {
                throw .badMapDefinition(map: "type \(info.type)", member: "", reason: "not a BTF variable")
            }
            var (map, values) = try mapDefinition(name: variable.name, typeID: variable.type, isInner: false)
            map.name = variable.name
            // Static maps are referenced through the section symbol and their offset.
            if let symbol = symbolsByName[variable.name] {
                legacyMapOffsets[section.index, default: [:]][symbol.value] = variable.name
            }
            if let values {
                guard let symbol = symbolsByName[variable.name] else {
                    throw .badMapDefinition(map: variable.name, member: "values", reason: "no ELF symbol for the map")
                }
                valuesMembers.append((variable.name, symbol, values, map.type == .progArray))
            }
            try addMap(map)
        }
        // Initial contents: each relocation in the map's `values` slots names a map or program.
        for relocation in relocationsBySection[section.index] ?? [] {
            guard
                let owner = valuesMembers.first(where: {
                    relocation.offset >= $0.symbol.value + $0.byteOffset && relocation.offset < $0.symbol.value &+ max($0.symbol.size, $0.byteOffset)
                })
            else {
                throw .unsupportedRelocation(
                    section: section.displayName, offset: relocation.offset, symbol: "", reason: "not inside a map's values")
            }
            let slot = (relocation.offset - owner.symbol.value - owner.byteOffset) / 8
            guard (relocation.offset - owner.symbol.value - owner.byteOffset) % 8 == 0, slot <= UInt64(UInt32.max) else {
                throw .badRelocationOffset(section: section.displayName, offset: relocation.offset)
            }
            let target = try symbol(of: relocation, in: section)
            guard !target.name.isEmpty else {
                throw .unsupportedRelocation(
                    section: section.displayName, offset: relocation.offset, symbol: displayName(of: target),
                    reason: "values must name a map or function")
            }
            let key = encode(UInt32(slot))
            let value: MapEntry.Value = owner.isProgramArray ? .program(target.name) : .map(target.name)
            spec.maps[owner.map]?.contents.append(MapEntry(key: key, value: value))
        }
        for name in valuesMembers.map(\.map) {
            if let entries = spec.maps[name]?.contents {
                let order = byteOrder
                spec.maps[name]?.contents = entries.sorted { Self.decodeU32($0.key, order) < Self.decodeU32($1.key, order) }
            }
        }
    }

    /// A map definition from its BTF struct; also the byte offset of its `values` member when it
    /// has one.
    private func mapDefinition(name: String, typeID: BTFTypeID, isInner: Bool) throws(BPFObjectError) -> (MapSpec, UInt64?) {
        guard case .struct(let definition) = try resolvedType(typeID).type else {
            throw .badMapDefinition(map: name, member: "", reason: "not a struct")
        }
        var map = MapSpec(name: name, type: .unspec, keySize: 0, valueSize: 0, maxEntries: 0)
        var keySize: UInt32?
        var valueSize: UInt32?
        var valuesOffset: UInt64?
        var valuesType: BTFTypeID?
        for member in definition.members {
            switch member.name {
            case "type": map.type = MapType(rawValue: try integer(member, map: name))
            case "max_entries": map.maxEntries = try integer(member, map: name)
            case "map_flags": map.flags = MapFlags(rawValue: try integer(member, map: name))
            case "numa_node": map.numaNode = try integer(member, map: name)
            case "key_size": keySize = try integer(member, map: name)
            case "value_size": valueSize = try integer(member, map: name)
            case "map_extra": map.mapExtra = try longInteger(member, map: name)
            case "pinning":
                let pinning = try integer(member, map: name)
                guard pinning <= 1 else {
                    throw .badMapDefinition(map: name, member: member.name, reason: "pinning \(pinning) is not LIBBPF_PIN_NONE or LIBBPF_PIN_BY_NAME")
                }
                map.pinning = MapPinning(rawValue: pinning)
            case "key", "value":
                guard case .pointer(let pointer) = try resolvedType(member.type).type else {
                    throw .badMapDefinition(map: name, member: member.name, reason: "not a pointer to the type")
                }
                guard let size = try btfSize(pointer.target), size <= UInt64(UInt32.max) else {
                    throw .badMapDefinition(map: name, member: member.name, reason: "type has no size")
                }
                if member.name == "key" {
                    map.keyType = pointer.target
                    map.keySize = UInt32(size)
                } else {
                    map.valueType = pointer.target
                    map.valueSize = UInt32(size)
                }
            case "values":
                guard case .array(let array) = try resolvedType(member.type).type, array.count == 0,
                    case .pointer(let pointer) = try resolvedType(array.elementType).type
                else {
                    throw .badMapDefinition(map: name, member: member.name, reason: "not a flexible array of pointers")
                }
                guard !isInner else {
                    throw .badMapDefinition(map: name, member: member.name, reason: "an inner map cannot have values")
                }
                valuesOffset = UInt64(member.bitOffset / 8)
                valuesType = pointer.target
            default:
                throw .badMapDefinition(map: name, member: member.name, reason: "unknown attribute")
            }
        }
        if let keySize {
            guard map.keyType == nil || map.keySize == keySize else {
                throw .badMapDefinition(map: name, member: "key_size", reason: "\(keySize) differs from the key type's size \(map.keySize)")
            }
            map.keySize = keySize
        }
        if let valueSize {
            guard map.valueType == nil || map.valueSize == valueSize else {
                throw .badMapDefinition(map: name, member: "value_size", reason: "\(valueSize) differs from the value type's size \(map.valueSize)")
            }
            map.valueSize = valueSize
        }
        if let valuesType {
            switch map.type {
            case .arrayOfMaps, .hashOfMaps:
                var (inner, _) = try mapDefinition(name: name + ".inner", typeID: valuesType, isInner: true)
                inner.name = name + ".inner"
                map.innerMap = inner
                // The value of a map of maps is a map's file descriptor.
                if valueSize == nil { map.valueSize = 4 }
                if keySize == nil && map.keyType == nil { map.keySize = 4 }
            case .progArray:
                guard case .functionPrototype = try resolvedType(valuesType).type else {
                    throw .badMapDefinition(map: name, member: "values", reason: "a program array's values must be functions")
                }
                if valueSize == nil { map.valueSize = 4 }
                if keySize == nil && map.keyType == nil { map.keySize = 4 }
            default:
                throw .badMapDefinition(map: name, member: "values", reason: "only maps of maps and program arrays have values")
            }
        }
        return (map, valuesOffset)
    }

    /// The `n` of `__uint(name, n)`: a pointer to an array of `n` elements.
    private func integer(_ member: BTFMember, map: String) throws(BPFObjectError) -> UInt32 {
        guard case .pointer(let pointer) = try resolvedType(member.type).type,
            case .array(let array) = try resolvedType(pointer.target).type
        else {
            throw .badMapDefinition(map: map, member: member.name, reason: "not declared with __uint (a pointer to an array)")
        }
        return array.count
    }

    /// The value of `__ulong(name, n)` (libbpf 1.4's macro for a 64-bit attribute: an enum, or
    /// enum64, whose single enumerator is `n`), or of `__uint(name, n)`. libbpf accepts it for
    /// `map_extra` only, the one attribute wider than 32 bits.
    private func longInteger(_ member: BTFMember, map: String) throws(BPFObjectError) -> UInt64 {
        let resolved = try resolvedType(member.type).type
        switch resolved {
        case .pointer:
            return UInt64(try integer(member, map: map))
        case .enum(let enumeration), .enum64(let enumeration):
            guard enumeration.values.count == 1, let only = enumeration.values.first else {
                throw .badMapDefinition(
                    map: map, member: member.name,
                    reason: "an __ulong enum needs exactly one value, it has \(enumeration.values.count)")
            }
            return only.value
        default:
            throw .badMapDefinition(
                map: map, member: member.name, reason: "not declared with __uint or __ulong (a pointer to an array, or an enum)")
        }
    }

    /// A `UInt32` in the object's byte order, as a map key.
    func encode(_ value: UInt32) -> [UInt8] {
        let little = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        return byteOrder == .littleEndian ? little : little.reversed()
    }

    static func decodeU32(_ bytes: [UInt8], _ byteOrder: ByteOrder) -> UInt32 {
        let ordered = byteOrder == .littleEndian ? bytes.reversed() : bytes
        return ordered.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
