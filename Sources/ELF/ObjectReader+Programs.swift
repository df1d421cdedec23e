import EBPFASM
import EBPFCollection
import EBPFELFFile

/// `R_BPF_64_64`: the 64-bit immediate of a `lddw`.
private let relocation64 = UInt32(1)
/// `R_BPF_64_32`: the 32-bit immediate of a call.
private let relocation32 = UInt32(10)

extension ObjectReader {
    /// Decodes every code section, ties relocations and local calls to symbol names, and splits
    /// each section into its functions: those of `.text` become subprograms, those of any other
    /// code section entry programs typed by the section name (``ProgramSection``).
    mutating func readPrograms() throws(BPFObjectError) {
        for section in elf.sections where kinds[section.index] == .code && section.size > 0 {
            let bytes = try contents(of: section)
            var instructions: [Instruction]
            do {
                instructions = try Instruction.decode(bytes, byteOrder: byteOrder)
            } catch {
                throw .instructions(section: section.displayName, error)
            }
            let offsets = RawOffsetMap(instructions)
            let functions = (functionsBySection[section.index] ?? [:]).sorted { $0.key < $1.key }
            guard let first = functions.first, first.key == 0 else {
                throw .codeWithoutFunction(section: section.displayName, offset: 0)
            }
            var starts: [(index: Int, name: String)] = []
            for (offset, name) in functions {
                guard let index = offsets.index(ofByteOffset: Int(offset)) else {
                    throw .misalignedFunction(section: section.displayName, symbol: name, offset: offset)
                }
                // A function starting at the very end is empty; it owns no instructions.
                guard index < instructions.count else { continue }
                instructions[index].symbol = name
                starts.append((index, name))
            }

            var relocated = Set<Int>()
            for relocation in relocationsBySection[section.index] ?? [] {
                guard relocation.offset <= UInt64(Int.max), let index = offsets.index(ofByteOffset: Int(relocation.offset)),
                    index < instructions.count
                else {
                    throw .badRelocationOffset(section: section.displayName, offset: relocation.offset)
                }
                try relocate(&instructions[index], relocation: relocation, in: section)
                relocated.insert(index)
            }
            for index in instructions.indices where !relocated.contains(index) {
                let instruction = instructions[index]
                guard instruction.isSubprogramCall || instruction.loadImmediateSource == .function else { continue }
                let slot = (offsets.slot(ofIndex: index) ?? 0) + 1
                let targetSlot = Int64(slot) + Int64(instruction.immediate32)
                guard let target = offsets.targetIndex(from: index, distance: Int(instruction.immediate32)),
                    let targetByte = offsets.slot(ofIndex: target),
                    let name = functionsBySection[section.index]?[UInt64(targetByte * Instruction.slotSize)]
                else {
                    throw .callTargetNotFound(
                        section: section.displayName, offset: UInt64((slot - 1) * Instruction.slotSize),
                        targetSection: section.displayName, targetOffset: targetSlot * Int64(Instruction.slotSize))
                }
                instructions[index].constant = -1
                instructions[index].symbolReference = name
            }

            let isLibrary = section.name == ".text"
            let sectionInfo = isLibrary ? ProgramSection(type: .unspec) : ProgramSection(sectionName: section.name)
            for (position, start) in starts.enumerated() {
                let end = position + 1 < starts.count ? starts[position + 1].index : instructions.count
                let (functionInfos, lineInfos, coreRelocations) = extInfos(
                    section: section.name, start: (offsets.slot(ofIndex: start.index) ?? 0) * Instruction.slotSize,
                    end: (offsets.slot(ofIndex: end) ?? 0) * Instruction.slotSize)
                var sectionInfo = sectionInfo
                if sectionInfo.type == .structOps, sectionInfo.attachTarget == nil, let member = structOpsMembers[start.name] {
                    sectionInfo.attachTarget = member
                }
                let program = ProgramSpec(
                    name: start.name, sectionName: section.name, type: sectionInfo.type,
                    attachType: sectionInfo.attachType, attachTarget: sectionInfo.attachTarget,
                    flags: sectionInfo.flags, license: object.license ?? "",
                    kernelVersion: object.kernelVersion ?? 0, instructions: Array(instructions[start.index..<end]),
                    functionInfos: functionInfos, lineInfos: lineInfos, coreRelocations: coreRelocations)
                guard spec.programs[start.name] == nil, spec.subprograms[start.name] == nil else {
                    throw .duplicateName(kind: "function", name: start.name)
                }
                if isLibrary {
                    spec.subprograms[start.name] = program
                } else {
                    spec.programs[start.name] = program
                }
            }
        }
    }

    /// Replaces what a relocation would patch with a symbolic reference: the map, data section,
    /// function or extern's name in ``Instruction/symbolReference``. Map and data references get
    /// the `lddw` source the loader will need (`BPF_PSEUDO_MAP_FD`, `BPF_PSEUDO_MAP_VALUE` with the
    /// offset in the upper half of the constant); calls and function addresses get a constant
    /// of -1 until the linker places the callee.
    private mutating func relocate(_ instruction: inout Instruction, relocation: ELFRelocation, in section: ELFSection) throws(BPFObjectError) {
        guard relocation.type == relocation64 || relocation.type == relocation32 else {
            throw .unsupportedRelocationType(section: section.displayName, offset: relocation.offset, type: relocation.type)
        }
        let symbol = try symbol(of: relocation, in: section)
        let symbolName = displayName(of: symbol)
        func unsupported(_ reason: String) -> BPFObjectError {
            .unsupportedRelocation(section: section.displayName, offset: relocation.offset, symbol: symbolName, reason: reason)
        }

        guard let targetIndex = symbol.section else {
            guard symbol.isUndefined, !symbol.name.isEmpty else { throw unsupported("symbol has no section") }
            try relocateExtern(&instruction, symbol: symbol, section: section, offset: relocation.offset)
            return
        }
        let targetSection = elf.sections[targetIndex]
        // Clang stores the addend in the instruction (BPF relocations are SHT_REL).
        let addend = UInt64(UInt32(bitPattern: instruction.immediate32))

        switch kinds[targetIndex] {
        case .legacyMaps, .btfMaps:
            guard instruction.isWide else { throw unsupported("map referenced by an instruction that is not lddw") }
            var name = symbol.name
            if symbol.kind == .section {
                let (offset, overflow) = symbol.value.addingReportingOverflow(addend)
                guard !overflow, let found = legacyMapOffsets[targetIndex]?[offset] else {
                    throw unsupported("no map at offset \(addend) of section '\(targetSection.displayName)'")
                }
                name = found
            }
            guard spec.maps[name] != nil || kinds[targetIndex] == .btfMaps else {
                throw unsupported("not a map of section '\(targetSection.displayName)'")
            }
            instruction.source = Register(rawValue: LoadImmediateSource.mapFileDescriptor.rawValue)
            instruction.constant = 0
            instruction.symbolReference = name

        case .data:
            guard instruction.isWide else { throw unsupported("data referenced by an instruction that is not lddw") }
            let (offset, overflow) = symbol.value.addingReportingOverflow(addend)
            guard !overflow, offset <= targetSection.size, offset <= UInt64(UInt32.max) else {
                throw .dataReferenceOutOfBounds(
                    section: section.displayName, offset: relocation.offset, dataSection: targetSection.displayName,
                    dataOffset: offset)
            }
            instruction.source = Register(rawValue: LoadImmediateSource.mapValue.rawValue)
            instruction.constant = Int64(offset) << 32
            instruction.symbolReference = targetSection.name

        case .code:
            let target: Int64
            if instruction.isSubprogramCall {
                // The immediate counts slots from the next instruction; for a function symbol clang
                // writes -1, which lands on the symbol itself.
                target = Int64(symbol.value) &+ (Int64(instruction.immediate32) &+ 1) &* Int64(Instruction.slotSize)
            } else if instruction.isWide {
                target = Int64(symbol.value) &+ Int64(addend)
                instruction.source = Register(rawValue: LoadImmediateSource.function.rawValue)
            } else {
                throw unsupported("code referenced by an instruction that is neither a bpf-to-bpf call nor lddw")
            }
            guard target >= 0, let name = functionsBySection[targetIndex]?[UInt64(target)] else {
                throw .callTargetNotFound(
                    section: section.displayName, offset: relocation.offset, targetSection: targetSection.displayName,
                    targetOffset: target)
            }
            instruction.constant = -1
            instruction.symbolReference = name

        case .structOps, nil:
            throw unsupported("symbol is in section '\(targetSection.displayName)', which holds no maps, data or code")
        }
    }
}
