import EBPFASM
import EBPFBTF
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
        // Sized once: growing a dictionary hashes every name again.
        var entryFunctions = 0
        var libraryFunctions = 0
        // Sections are visited by index: copying each one retains its name.
        var codeSections: [Int] = []
        for index in elf.sections.indices where kinds[index] == .code && elf.sections[index].size > 0 {
            codeSections.append(index)
            let count = functionsBySection[index]?.count ?? 0
            if elf.sections[index].name == ".text" { libraryFunctions += count } else { entryFunctions += count }
        }
        spec.programs.reserveCapacity(spec.programs.count + entryFunctions)
        spec.subprograms.reserveCapacity(spec.subprograms.count + libraryFunctions)
        for sectionIndex in codeSections {
            let section = elf.sections[sectionIndex]
            let bytes = try contents(of: section)
            let functions = functionsBySection[section.index]?.entries(below: UInt64(bytes.count)) ?? []
            guard let first = functions.first, first.key == 0 else {
                throw .codeWithoutFunction(section: section.displayName, offset: 0)
            }
            // Each function is decoded on its own, so its instructions are never copied again.
            var bodies: [[Instruction]] = []
            var tables: [SlotTable] = []
            bodies.reserveCapacity(functions.count)
            for (position, function) in functions.enumerated() {
                let start = bytes.startIndex + Int(function.key)
                let end = position + 1 < functions.count ? bytes.startIndex + Int(functions[position + 1].key) : bytes.endIndex
                var body: [Instruction]
                do {
                    body = try Self.decode(bytes[start..<end], byteOrder: byteOrder)
                } catch {
                    throw sectionDecodingError(bytes, section: section, fallback: error)
                }
                body[0].symbol = function.value
                tables.append(SlotTable(body))
                bodies.append(body)
            }
            func owner(ofByteOffset offset: UInt64) -> Int {
                var low = 0
                var high = functions.count
                while high - low > 1 {
                    let middle = (low + high) / 2
                    if functions[middle].key <= offset { low = middle } else { high = middle }
                }
                return low
            }

            for relocation in relocationsBySection[section.index] ?? [] {
                let function = owner(ofByteOffset: relocation.offset)
                let local = relocation.offset &- functions[function].key
                guard relocation.offset < UInt64(bytes.count), let index = tables[function].index(ofByteOffset: Int(local)),
                    index < bodies[function].count
                else {
                    throw .badRelocationOffset(section: section.displayName, offset: relocation.offset)
                }
                try relocate(&bodies[function][index], relocation: relocation, in: section)
            }
            // Read once: a static constant of another module is reached through an accessor.
            let functionAddress = LoadImmediateSource.function
            for function in bodies.indices {
                let base = Int64(functions[function].key) / Int64(Instruction.slotSize)
                for index in bodies[function].indices {
                    // Read fields in place: copying every instruction would retain its strings. A
                    // relocated instruction always names its target, so one with a name is done.
                    guard bodies[function][index].isSubprogramCall || bodies[function][index].loadImmediateSource == functionAddress,
                        !bodies[function][index].hasSymbolReference
                    else { continue }
                    let slot = base + Int64(tables[function].slot(ofIndex: index)) + 1
                    let targetSlot = slot + Int64(bodies[function][index].immediate32)
                    let targetOffset = targetSlot * Int64(Instruction.slotSize)
                    guard targetOffset >= 0, let name = functionsBySection[section.index]?[UInt64(targetOffset)] else {
                        throw .callTargetNotFound(
                            section: section.displayName, offset: UInt64((slot - 1) * Int64(Instruction.slotSize)),
                            targetSection: section.displayName, targetOffset: targetOffset)
                    }
                    bodies[function][index].constant = -1
                    bodies[function][index].symbolReference = name
                }
            }

            var extRecords = extRecords(ofSection: section.name)
            let isLibrary = section.name == ".text"
            let sectionInfo = isLibrary ? ProgramSection(type: .unspec) : ProgramSection(sectionName: section.name)
            // Functions whose symbol is global or weak with hidden or internal visibility (`__hidden`),
            // which the loader verifies as static (``ProgramSpec/isHidden``).
            var hiddenFunctions: Set<String> = []
            for symbol in symbolsBySection[section.index] ?? []
            where symbol.binding != .local && (symbol.visibility == .hidden || symbol.visibility == .internal) {
                hiddenFunctions.insert(symbol.name)
            }
            for (position, function) in functions.enumerated() {
                let name = function.value
                let start = Int(function.key)
                let end = position + 1 < functions.count ? Int(functions[position + 1].key) : bytes.count
                let (functionInfos, lineInfos, coreRelocations) = extRecords.take(start: start, end: end)
                var sectionInfo = sectionInfo
                if sectionInfo.type == .structOps, sectionInfo.attachTarget == nil, let member = structOpsMembers[name] {
                    sectionInfo.attachTarget = member
                }
                let program = ProgramSpec(
                    name: name, sectionName: section.name, type: sectionInfo.type,
                    attachType: sectionInfo.attachType, attachTarget: sectionInfo.attachTarget,
                    flags: sectionInfo.flags, license: object.license ?? "",
                    kernelVersion: object.kernelVersion ?? 0, instructions: bodies[position],
                    functionInfos: functionInfos, lineInfos: lineInfos, coreRelocations: coreRelocations,
                    isHidden: !hiddenFunctions.isEmpty && hiddenFunctions.contains(name))
                // A name already in the other table is a duplicate, and so is one the insertion
                // replaced (the spec is thrown away then).
                let isDuplicate =
                    isLibrary
                    ? (!spec.programs.isEmpty && spec.programs.index(forKey: name) != nil)
                        || spec.subprograms.updateValue(program, forKey: name) != nil
                    : (!spec.subprograms.isEmpty && spec.subprograms.index(forKey: name) != nil)
                        || spec.programs.updateValue(program, forKey: name) != nil
                guard !isDuplicate else { throw .duplicateName(kind: "function", name: name) }
            }
        }
    }

    /// Decodes straight from the slice's storage; the generic entry point cannot be specialised
    /// across modules.
    static func decode(_ bytes: ArraySlice<UInt8>, byteOrder: ByteOrder) throws(InstructionDecodingError) -> [Instruction] {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(InstructionDecodingError) -> [Instruction] in
                try Instruction.decode(buffer, byteOrder: byteOrder)
            }
        }
        return try result.get()
    }

    /// The decoding error of the whole section, so its index and byte offset count from the
    /// section's start rather than the function's. A `lddw` cut in half by the next function's
    /// start decodes as a whole section but not per function: that is a misplaced symbol.
    private func sectionDecodingError(
        _ bytes: ArraySlice<UInt8>, section: ELFSection, fallback: InstructionDecodingError
    ) -> BPFObjectError {
        let whole: [Instruction]
        do {
            whole = try Instruction.decode(bytes, byteOrder: byteOrder)
        } catch {
            return .instructions(section: section.displayName, error)
        }
        let table = SlotTable(whole)
        let misplaced = (functionsBySection[section.index]?.entries(below: UInt64(bytes.count)) ?? []).first { offset, _ in
            table.index(ofByteOffset: Int(offset)) == nil
        }
        if let misplaced { return .misalignedFunction(section: section.displayName, symbol: misplaced.value, offset: misplaced.key) }
        return .instructions(section: section.displayName, fallback)
    }

    /// Why a reference to a map through a local symbol is refused (cilium/ebpf's wording).
    static let staticMapReason = "a local symbol names the map: possible static qualifier on a map definition"

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
        func unsupported(_ reason: String) -> BPFObjectError {
            .unsupportedRelocation(
                section: section.displayName, offset: relocation.offset, symbol: displayName(of: symbol), reason: reason)
        }

        guard let targetIndex = symbol.section else {
            guard symbol.isUndefined, !symbol.name.isEmpty else { throw unsupported("symbol has no section") }
            try relocateExtern(&instruction, symbol: symbol, section: section, offset: relocation.offset)
            return
        }
        // Fields are read in place: copying the section retains its name.
        // Clang stores the addend in the instruction (BPF relocations are SHT_REL).
        let addend = UInt64(UInt32(bitPattern: instruction.immediate32))

        /// Points `lddw` at the symbol's offset in the value of `map` (`BPF_PSEUDO_MAP_VALUE`).
        func referenceValue(of map: SharedSymbolReference) throws(BPFObjectError) {
            let (offset, overflow) = symbol.value.addingReportingOverflow(addend)
            guard !overflow, offset <= elf.sections[targetIndex].size, offset <= UInt64(UInt32.max) else {
                throw .dataReferenceOutOfBounds(
                    section: section.displayName, offset: relocation.offset, dataSection: elf.sections[targetIndex].displayName,
                    dataOffset: offset)
            }
            instruction.source = Register(rawValue: LoadImmediateSource.mapValue.rawValue)
            instruction.constant = Int64(offset) << 32
            instruction.setSymbolReference(map)
        }

        switch kinds[targetIndex] {
        case .legacyMaps, .btfMaps:
            guard instruction.isWide else { throw unsupported("map referenced by an instruction that is not lddw") }
            let name = symbol.name
            // A map declared `static` is referenced through a local symbol (its own, or the
            // section's with the offset in the instruction). Refused as cilium/ebpf refuses it:
            // such a map is private to its object, which libbpf and cilium/ebpf do not model.
            guard symbol.binding != .local else {
                var mapName = displayName(of: symbol)
                if symbol.kind == .section {
                    let (offset, overflow) = symbol.value.addingReportingOverflow(addend)
                    mapName = overflow ? mapName : legacyMapOffsets[targetIndex]?[offset] ?? mapName
                }
                throw .unsupportedRelocation(
                    section: section.displayName, offset: relocation.offset, symbol: mapName,
                    reason: Self.staticMapReason)
            }
            // clang before 8 gives map symbols STT_NOTYPE rather than STT_OBJECT.
            guard symbol.kind == .object || symbol.kind == .notype else {
                throw unsupported("a map symbol must be an object, not \(symbol.kind)")
            }
            guard kinds[targetIndex] == .btfMaps || spec.maps.index(forKey: name) != nil else {
                throw unsupported("not a map of section '\(elf.sections[targetIndex].displayName)'")
            }
            instruction.source = Register(rawValue: LoadImmediateSource.mapFileDescriptor.rawValue)
            instruction.constant = 0
            instruction.setSymbolReference(sharedReference(name, symbol: symbol.index))

        case .data:
            guard instruction.isWide else { throw unsupported("data referenced by an instruction that is not lddw") }
            try referenceValue(of: sharedReference(elf.sections[targetIndex].name, symbol: symbol.index))

        case .arenaGlobals:
            // An `__arena` global: an address in the arena map's pages, which the kernel gives as
            // the arena's user address plus the offset (libbpf relocates these the same way).
            guard instruction.isWide else { throw unsupported("__arena global referenced by an instruction that is not lddw") }
            guard let arenaMapName else { throw unsupported("no arena map holds section '\(elf.sections[targetIndex].displayName)'") }
            try referenceValue(of: sharedReference(arenaMapName, symbol: symbol.index))

        case .code:
            // A symbol value above Int64.max names no offset in any section: report it, don't trap.
            guard let symbolOffset = Int64(exactly: symbol.value) else {
                throw .callTargetNotFound(
                    section: section.displayName, offset: relocation.offset, targetSection: elf.sections[targetIndex].displayName,
                    targetOffset: Int64(bitPattern: symbol.value))
            }
            let target: Int64
            if instruction.isSubprogramCall {
                // The immediate counts slots from the next instruction; for a function symbol clang
                // writes -1, which lands on the symbol itself.
                target = symbolOffset &+ (Int64(instruction.immediate32) &+ 1) &* Int64(Instruction.slotSize)
            } else if instruction.isWide {
                target = symbolOffset &+ Int64(addend)
                instruction.source = Register(rawValue: LoadImmediateSource.function.rawValue)
            } else {
                throw unsupported("code referenced by an instruction that is neither a bpf-to-bpf call nor lddw")
            }
            guard target >= 0, let name = functionsBySection[targetIndex]?[UInt64(target)] else {
                throw .callTargetNotFound(
                    section: section.displayName, offset: relocation.offset, targetSection: elf.sections[targetIndex].displayName,
                    targetOffset: target)
            }
            instruction.constant = -1
            instruction.symbolReference = name

        case .structOps, nil:
            throw unsupported("symbol is in section '\(elf.sections[targetIndex].displayName)', which holds no maps, data or code")
        }
    }
}

/// Instruction index <-> raw slot for one code section, with constant-time lookups in both
/// directions (relocations and calls are resolved for every instruction of big objects).
struct SlotTable {
    /// `slots[i]` is the first slot of instruction `i`; the last element is the slot count.
    private var slots: [Int32]
    /// `indices[s]` is the instruction starting at slot `s`, or -1 inside a `lddw`.
    private var indices: [Int32]

    init(_ instructions: [Instruction]) {
        var slots: [Int32] = []
        slots.reserveCapacity(instructions.count + 1)
        var indices: [Int32] = []
        indices.reserveCapacity(instructions.count * 2)
        // Read in place: iterating by value would retain and release every instruction.
        instructions.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                slots.append(Int32(truncatingIfNeeded: indices.count))
                indices.append(Int32(truncatingIfNeeded: index))
                if buffer[index].isWide { indices.append(-1) }
            }
        }
        slots.append(Int32(truncatingIfNeeded: indices.count))
        self.slots = slots
        self.indices = indices
    }

    /// The first slot of instruction `index`, for `0...instructionCount`.
    func slot(ofIndex index: Int) -> Int { Int(slots[index]) }

    /// The instruction starting at `slot`, or nil when `slot` is outside or inside a `lddw`.
    func index(ofSlot slot: Int64) -> Int? {
        guard slot >= 0, slot < Int64(indices.count) else { return nil }
        let index = indices[Int(slot)]
        return index < 0 ? nil : Int(index)
    }

    /// The instruction starting at `byteOffset`, as relocations give it.
    func index(ofByteOffset byteOffset: Int) -> Int? {
        guard byteOffset >= 0, byteOffset % Instruction.slotSize == 0 else { return nil }
        return index(ofSlot: Int64(byteOffset / Instruction.slotSize))
    }
}

/// The `.BTF.ext` records of one code section, sorted by offset, handed out function by function
/// in one pass (functions are visited in offset order).
struct ExtRecords {
    private var functions: RecordCursor<BTFFuncInfo>
    private var lines: RecordCursor<BTFLineInfo>
    private var relocations: RecordCursor<BTFCoreRelocation>

    init(_ records: ([BTFFuncInfo], [BTFLineInfo], [BTFCoreRelocation]) = ([], [], [])) {
        functions = RecordCursor(records.0)
        lines = RecordCursor(records.1)
        relocations = RecordCursor(records.2)
    }

    /// The records in `start..<end` (bytes), rebased to `start`; records before `start` that no
    /// function claimed are dropped.
    mutating func take(start: Int, end: Int) -> ([BTFFuncInfo], [BTFLineInfo], [BTFCoreRelocation]) {
        let lower = UInt32(clamping: start)
        let upper = UInt32(clamping: end)
        return (
            functions.take(lower, upper), lines.take(lower, upper), relocations.take(lower, upper)
        )
    }
}

/// A record of `.BTF.ext` that applies to the instruction at a byte offset.
protocol InstructionOffsetRecord {
    var instructionOffset: UInt32 { get set }
}

extension BTFFuncInfo: InstructionOffsetRecord {}
extension BTFLineInfo: InstructionOffsetRecord {}
extension BTFCoreRelocation: InstructionOffsetRecord {}

/// Records sorted by offset and a position in them. Fields are read in place and runs are copied in
/// bulk: copying records one by one costs a reference count each.
struct RecordCursor<Record: InstructionOffsetRecord> {
    private let records: [Record]
    private var position = 0

    init(_ records: [Record]) {
        // Clang writes the records in offset order; sort only when a file does not.
        let isSorted = records.withUnsafeBufferPointer { buffer in
            var index = 1
            while index < buffer.count {
                if buffer[index - 1].instructionOffset > buffer[index].instructionOffset { return false }
                index += 1
            }
            return true
        }
        self.records = isSorted ? records : records.sorted { $0.instructionOffset < $1.instructionOffset }
    }

    /// The records in `lower..<upper`, rebased to `lower`; earlier records not yet taken are dropped.
    mutating func take(_ lower: UInt32, _ upper: UInt32) -> [Record] {
        let (first, end) = records.withUnsafeBufferPointer { buffer in
            var position = self.position
            while position < buffer.count, buffer[position].instructionOffset < lower { position += 1 }
            let first = position
            while position < buffer.count, buffer[position].instructionOffset < upper { position += 1 }
            return (first, position)
        }
        position = end
        guard end > first else { return [] }
        // A section with one function takes all its records unchanged: share them.
        if lower == 0, first == 0, end == records.count { return records }
        var taken = Array(records[first..<end])
        if lower != 0 {
            taken.withUnsafeMutableBufferPointer { buffer in
                for index in buffer.indices { buffer[index].instructionOffset -= lower }
            }
        }
        return taken
    }
}
