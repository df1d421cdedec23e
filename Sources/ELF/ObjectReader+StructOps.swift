import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Turns each variable of `.struct_ops` and `.struct_ops.link` into a struct_ops map: value size
    /// from the variable's struct in the object's BTF, contents its initial bytes, and for each
    /// function-pointer member the program it is set to (from the section's relocations). Maps
    /// from `.struct_ops.link` get `BPF_F_LINK`, so they are attached through a link.
    mutating func readStructOps() throws(BPFObjectError) {
        for sectionIndex in elf.sections.indices where kinds[sectionIndex] == .structOps && elf.sections[sectionIndex].size > 0 {
            let section = elf.sections[sectionIndex]
            guard types != nil, let dataSection = try dataSection(named: section.name) else {
                throw .missingBTF(section: section.displayName)
            }
            let bytes = try contents(of: section)
            let relocations = relocationsBySection[section.index] ?? []
            for info in dataSection.variables {
                guard case .variable(let variable) = try btfType(info.type) else { continue }
                let (structID, structType) = try resolvedType(variable.type)
                guard case .struct(let composite) = structType else {
                    throw .badMapDefinition(map: variable.name, member: "", reason: "a struct_ops variable must be a struct")
                }
                guard let symbol = symbolsBySection[section.index]?.first(where: { $0.name == variable.name }) else {
                    throw .badMapDefinition(map: variable.name, member: "", reason: "no ELF symbol in \(section.name)")
                }
                let (end, overflow) = symbol.value.addingReportingOverflow(UInt64(composite.size))
                guard !overflow, end <= UInt64(bytes.count) else {
                    throw .symbolOutOfBounds(
                        section: section.displayName, symbol: symbol.name, offset: symbol.value, size: UInt64(composite.size))
                }
                let start = bytes.startIndex + Int(symbol.value)
                var programs: [String: String] = [:]
                for relocation in relocations where relocation.offset >= symbol.value && relocation.offset < end {
                    let memberOffset = relocation.offset - symbol.value
                    guard let member = composite.members.first(where: { UInt64($0.bitOffset / 8) == memberOffset }) else {
                        throw .badRelocationOffset(section: section.displayName, offset: relocation.offset)
                    }
                    let target = try self.symbol(of: relocation, in: section)
                    guard let targetSection = target.section, kinds[targetSection] == .code else {
                        throw .unsupportedRelocation(
                            section: section.displayName, offset: relocation.offset, symbol: displayName(of: target),
                            reason: "a struct_ops member must point to a program")
                    }
                    let name = target.kind == .section
                        ? functionsBySection[targetSection]?[target.value] ?? "" : target.name
                    guard !name.isEmpty else {
                        throw .callTargetNotFound(
                            section: section.displayName, offset: relocation.offset,
                            targetSection: elf.sections[targetSection].displayName,
                            // A section symbol's value is unchecked: above Int64.max it keeps its bits.
                            targetOffset: Int64(bitPattern: target.value))
                    }
                    programs[member.name] = name
                    structOpsMembers[name] = member.name
                }
                try addMap(
                    MapSpec(
                        name: variable.name, type: .structOps, keySize: 4, valueSize: composite.size, maxEntries: 1,
                        flags: section.name == ".struct_ops.link" ? [.link] : [],
                        contents: [MapEntry(key: [0, 0, 0, 0], value: .bytes(Array(bytes[start..<(start + Int(composite.size))])))],
                        valueType: structID, structOpsPrograms: programs))
            }
        }
    }
}
