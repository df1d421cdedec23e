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
        var cache = LinkCache()
        return try link(program, cache: &cache).program
    }

    /// Program `name` linked, with what `cache` already knows of the spec's functions.
    func linkedProgram(named name: String, cache: inout LinkCache) throws(CollectionError) -> LinkedProgram {
        guard let entry = programs[name] else {
            throw CollectionError(.link(name), .notInSpec(kind: .program, name: name))
        }
        return try link(entry, cache: &cache)
    }

    /// Linking as ``link(_:)`` does, scanning each of the spec's functions once per `cache`
    /// rather than once per program that calls it, and the linked program once, at the end,
    /// only where references are.
    func link(_ program: ProgramSpec, cache: inout LinkCache) throws(CollectionError) -> LinkedProgram {
        let own = FunctionSummary(program.instructions)
        // Where each placed function starts, in raw slots; and what each placed one refers to.
        // A program calls a handful of functions: searching a short array beats hashing names.
        var starts: [(name: String, slot: Int)] = [(program.name, 0)]
        func start(of name: String) -> Int? {
            starts.first { $0.name == name }?.slot
        }
        var placed: [(summary: FunctionSummary, index: Int, slot: Int)] = [(own, 0, 0)]
        // The callees in the order they are appended, with the byte offset each starts at. They
        // are found first and appended after, so the program's arrays grow once.
        var callees: [(function: ProgramSpec, shift: UInt32)] = []
        var slotCount = own.slotCount
        var instructionCount = program.instructions.count
        var pending = own.callees
        var pendingIndex = 0
        while pendingIndex < pending.count {
            let callee = pending[pendingIndex]
            pendingIndex += 1
            guard start(of: callee) == nil else { continue }
            guard let function = subprograms[callee] ?? programs[callee] else {
                let index = program.instructions.firstIndex { $0.symbolReference == callee && $0.referencesFunction } ?? 0
                throw CollectionError(
                    .link(program.name),
                    .unresolvedReference(instruction: index, symbol: callee, why: "no function of this name in the object"))
            }
            let summary: FunctionSummary
            if let known = cache.functions[callee] {
                summary = known
            } else {
                summary = FunctionSummary(function.instructions)
                cache.functions[callee] = summary
            }
            starts.append((callee, slotCount))
            let byteStart = slotCount &* Instruction.slotSize
            guard let shift = UInt32(exactly: byteStart) else {
                throw CollectionError(
                    .link(program.name),
                    .unresolvedReference(instruction: instructionCount, symbol: callee, why: "program too large"))
            }
            placed.append((summary, instructionCount, slotCount))
            callees.append((function, shift))
            instructionCount &+= function.instructions.count
            slotCount &+= summary.slotCount
            pending += summary.callees
        }

        var linked = program
        if !callees.isEmpty {
            var functionInfoCount = program.functionInfos.count
            var lineInfoCount = program.lineInfos.count
            var relocationCount = program.coreRelocations.count
            for callee in callees {
                functionInfoCount &+= callee.function.functionInfos.count
                lineInfoCount &+= callee.function.lineInfos.count
                relocationCount &+= callee.function.coreRelocations.count
            }
            linked.instructions.reserveCapacity(instructionCount)
            linked.functionInfos.reserveCapacity(functionInfoCount)
            linked.lineInfos.reserveCapacity(lineInfoCount)
            linked.coreRelocations.reserveCapacity(relocationCount)
            for (function, shift) in callees {
                // Appended from the callee's storage in one block copy (a retain per name, no
                // per-element capacity check).
                function.instructions.withUnsafeBufferPointer { linked.instructions.append(contentsOf: $0) }
                for info in function.functionInfos {
                    linked.functionInfos.append(BTFFuncInfo(instructionOffset: info.instructionOffset &+ shift, type: info.type))
                }
                let firstLine = linked.lineInfos.count
                function.lineInfos.withUnsafeBufferPointer { linked.lineInfos.append(contentsOf: $0) }
                linked.lineInfos.withUnsafeMutableBufferPointer { lines in
                    for index in firstLine..<lines.count { lines[index].instructionOffset &+= shift }
                }
                let firstRelocation = linked.coreRelocations.count
                function.coreRelocations.withUnsafeBufferPointer { linked.coreRelocations.append(contentsOf: $0) }
                linked.coreRelocations.withUnsafeMutableBufferPointer { relocations in
                    for index in firstRelocation..<relocations.count { relocations[index].instructionOffset &+= shift }
                }
            }
        }

        var references: [Int] = []
        references.reserveCapacity(placed.reduce(0) { $0 &+ $1.summary.references.count })
        for function in placed {
            for reference in function.summary.references {
                let index = function.index &+ reference.index
                references.append(index)
                guard starts.count > 1, reference.referencesFunction else { continue }
                guard let callee = linked.instructions[index].symbolReference, let start = start(of: callee) else { continue }
                let relative = start &- (function.slot &+ reference.slot &+ 1)
                guard let immediate = Int32(exactly: relative) else {
                    throw CollectionError(
                        .link(program.name), .unresolvedReference(instruction: index, symbol: callee, why: "call offset out of range"))
                }
                if linked.instructions[index].isWide {
                    // The upper half of a function address's constant is 0.
                    linked.instructions[index].constant = Int64(UInt32(bitPattern: immediate))
                } else {
                    linked.instructions[index].constant = Int64(immediate)
                }
            }
        }
        return LinkedProgram(program: linked, references: references)
    }
}

/// A linked program and where its references are.
struct LinkedProgram {
    var program: ProgramSpec
    /// The indices of the instructions with a ``Instruction/symbolReference``, in order.
    var references: [Int]
}

/// What linking needs to know of the spec's functions, each scanned once per load.
struct LinkCache {
    var functions: [String: FunctionSummary] = [:]
}

/// One scan of a function's instructions: its size, what it calls, where its references are.
struct FunctionSummary {
    /// The function's size in raw slots.
    var slotCount = 0
    /// The functions it calls or takes the address of, in order of first use.
    var callees: [String] = []
    /// Its instructions with a ``Instruction/symbolReference``: index, raw slot, and whether the
    /// reference is to a function.
    var references: [(index: Int, slot: Int, referencesFunction: Bool)] = []

    init(_ instructions: [Instruction]) {
        var slot = 0
        // Read in place: copying each instruction would retain and release its names.
        instructions.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                defer { slot &+= buffer[index].slotCount }
                guard buffer[index].hasSymbolReference, let name = buffer[index].symbolReference else { continue }
                let referencesFunction = buffer[index].referencesFunction
                references.append((index, slot, referencesFunction))
                if referencesFunction, !callees.contains(name) {
                    callees.append(name)
                }
            }
        }
        slotCount = slot
    }
}

extension Instruction {
    /// A bpf-to-bpf call or a `lddw` of a function's address (`BPF_PSEUDO_FUNC`).
    var referencesFunction: Bool {
        isSubprogramCall || loadImmediateSource == .function
    }
}
