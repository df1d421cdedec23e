import EBPFASM
import EBPFBTF

extension CollectionSpec {
    /// Program `name` with every function it reaches through bpf-to-bpf calls and function
    /// addresses (`bpf_loop` callbacks) appended, transitively, each once, and the calls and
    /// addresses pointing at them. Function info, line info and CO-RE relocations of the appended
    /// functions come along, their offsets moved by where each function now starts.
    ///
    /// Callees are looked up in ``subprograms`` first, then in ``programs``. Pure: needs no
    /// kernel. The result keeps every ``Instruction/symbolReference``; map and kernel symbol
    /// references are the loader's to resolve.
    ///
    /// - Throws: ``CollectionError`` with step ``CollectionError/Step/link(_:)`` when a callee is
    ///   missing or the program grows past what an instruction offset can reach.
    public func linkedProgram(named name: String) throws(CollectionError) -> ProgramSpec {
        guard let entry = programs[name] else {
            throw CollectionError(.link(name), .notInSpec(kind: .program, name: name))
        }
        return try link(entry)
    }

    /// `program` linked against this spec's functions; see ``linkedProgram(named:)``.
    public func link(_ program: ProgramSpec) throws(CollectionError) -> ProgramSpec {
        var linked = program
        // Where each placed function starts, in raw slots.
        var starts: [String: Int] = [program.name: 0]
        var slotCount = RawOffsetMap(program.instructions).slotCount
        var pending = calledFunctions(in: program.instructions)
        var pendingIndex = 0
        while pendingIndex < pending.count {
            let callee = pending[pendingIndex]
            pendingIndex += 1
            guard starts[callee] == nil else { continue }
            guard let function = subprograms[callee] ?? programs[callee] else {
                let index = program.instructions.firstIndex { $0.symbolReference == callee && $0.referencesFunction } ?? 0
                throw CollectionError(
                    .link(program.name),
                    .unresolvedReference(instruction: index, symbol: callee, why: "no function of this name in the object"))
            }
            starts[callee] = slotCount
            let byteStart = slotCount &* Instruction.slotSize
            guard let shift = UInt32(exactly: byteStart) else {
                throw CollectionError(
                    .link(program.name),
                    .unresolvedReference(instruction: linked.instructions.count, symbol: callee, why: "program too large"))
            }
            linked.instructions += function.instructions
            linked.functionInfos += function.functionInfos.map {
                BTFFuncInfo(instructionOffset: $0.instructionOffset &+ shift, type: $0.type)
            }
            linked.lineInfos += function.lineInfos.map {
                var info = $0
                info.instructionOffset &+= shift
                return info
            }
            linked.coreRelocations += function.coreRelocations.map {
                var relocation = $0
                relocation.instructionOffset &+= shift
                return relocation
            }
            slotCount &+= RawOffsetMap(function.instructions).slotCount
            pending += calledFunctions(in: function.instructions)
        }
        guard starts.count > 1 else { return linked }

        var slot = 0
        for index in linked.instructions.indices {
            let instruction = linked.instructions[index]
            defer { slot &+= instruction.slotCount }
            guard instruction.referencesFunction, let callee = instruction.symbolReference,
                let start = starts[callee]
            else { continue }
            let relative = start &- (slot &+ 1)
            guard let immediate = Int32(exactly: relative) else {
                throw CollectionError(
                    .link(program.name), .unresolvedReference(instruction: index, symbol: callee, why: "call offset out of range"))
            }
            if instruction.isWide {
                // The upper half of a function address's constant is 0.
                linked.instructions[index].constant = Int64(UInt32(bitPattern: immediate))
            } else {
                linked.instructions[index].constant = Int64(immediate)
            }
        }
        return linked
    }

    /// The functions `instructions` call or take the address of, in order of first use.
    private func calledFunctions(in instructions: [Instruction]) -> [String] {
        var names: [String] = []
        var seen: Set<String> = []
        for instruction in instructions where instruction.referencesFunction {
            guard let name = instruction.symbolReference, seen.insert(name).inserted else { continue }
            names.append(name)
        }
        return names
    }
}

extension Instruction {
    /// A bpf-to-bpf call or a `lddw` of a function's address (`BPF_PSEUDO_FUNC`).
    var referencesFunction: Bool {
        isSubprogramCall || loadImmediateSource == .function
    }
}
