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
        var linked = program
        let own = FunctionSummary(program.instructions)
        // Where each placed function starts, in raw slots; and what each placed one refers to.
        // A program calls a handful of functions: searching a short array beats hashing names.
        var starts: [(name: String, slot: Int)] = [(program.name, 0)]
        func start(of name: String) -> Int? {
            starts.first { $0.name == name }?.slot
        }
        var placed: [(summary: FunctionSummary, index: Int, slot: Int)] = [(own, 0, 0)]
        var slotCount = own.slotCount
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
                    .unresolvedReference(instruction: linked.instructions.count, symbol: callee, why: "program too large"))
            }
            placed.append((summary, linked.instructions.count, slotCount))
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
            slotCount &+= summary.slotCount
            pending += summary.callees
        }

        var references: [Int] = []
        references.reserveCapacity(placed.reduce(0) { $0 &+ $1.summary.references.count })
        for function in placed {
            for reference in function.summary.references {
                let index = function.index &+ reference.index
                references.append(index)
                guard starts.count > 1, reference.referencesFunction else { continue }
                let instruction = linked.instructions[index]
                guard let callee = instruction.symbolReference, let start = start(of: callee) else { continue }
                let relative = start &- (function.slot &+ reference.slot &+ 1)
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
        for index in instructions.indices {
            let instruction = instructions[index]
            defer { slot &+= instruction.slotCount }
            guard let name = instruction.symbolReference else { continue }
            let referencesFunction = instruction.referencesFunction
            references.append((index, slot, referencesFunction))
            if referencesFunction, !callees.contains(name) {
                callees.append(name)
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
