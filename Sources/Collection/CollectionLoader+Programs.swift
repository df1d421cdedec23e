import EBPFASM
import EBPFBTF
import EBPFSys

extension CollectionLoader {
    /// The libbpf-style poison for a call of a weak kfunc the kernel lacks: a helper call with an
    /// id no kernel has, which the verifier reports only if the call is reachable.
    static let missingKernelFunctionHelperBase: Int32 = 2_002_000_000

    /// Relocates (CO-RE), resolves and loads one linked program.
    /// `references`, when given, are the indices of the instructions with a symbol reference,
    /// which are then the only ones looked at; CO-RE relocation may change any instruction, so a
    /// program with relocations is looked at whole.
    func loadProgram(_ program: inout ProgramSpec, references: [Int]? = nil) throws(CollectionError) {
        var references = references
        if !program.coreRelocations.isEmpty {
            program.instructions = try relocate(program)
            references = nil
        }
        var context = ProgramLoadContext(btf: objectBTF)
        context.token = token
        context.lineInfoRecords = objectBTF?.lineInfoRecordsByProgram[program.name]
        try resolveReferences(in: &program, at: references ?? Array(program.instructions.indices), context: &context)
        if program.type == .structOps {
            _ = try prepareStructOpsProgram(&program, context: &context)
        } else {
            try resolveAttachTarget(of: program, context: &context)
        }
        if Self.isUSDTSection(program), (try? BPFFeatures.isSupported(.uprobeMulti)) == true {
            // As libbpf does since 1.5: USDT programs attach all locations with one uprobe.multi
            // link where the kernel has them (Linux 6.6), which needs this expected attach type.
            program.attachType = .traceUprobeMulti
        }
        do throws(ProgramError) {
            objects.programs[program.name] = try Program(linked: program, context: context, options: options.programs)
        } catch {
            throw CollectionError(.program(program.name), .program(error))
        }
    }

    /// Whether `program` comes from a `usdt` or `usdt.s` section (with or without a target) and
    /// has no attach type of its own.
    static func isUSDTSection(_ program: ProgramSpec) -> Bool {
        guard program.type == .kprobe, program.attachType == nil else { return false }
        let name = program.sectionName.hasPrefix("?") ? String(program.sectionName.dropFirst()) : program.sectionName
        let kind = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return kind == "usdt" || kind == "usdt.s"
    }

    /// Applies the program's CO-RE relocations against the kernel's BTF (or the options').
    private func relocate(_ program: ProgramSpec) throws(CollectionError) -> [Instruction] {
        guard let local = spec.types else {
            throw CollectionError(
                .relocate(program.name),
                .unresolvedReference(instruction: 0, symbol: "CO-RE", why: "relocations without object BTF"))
        }
        if relocator == nil {
            let targets = try [kernel.vmlinux()] + kernel.modules().map(\.spec)
            relocator = CORERelocator(localSpec: local, targets: targets)
        }
        guard let relocator else { return program.instructions }
        do {
            return try relocator.relocate(
                instructions: program.instructions, relocations: program.coreRelocations, program: program.name)
        } catch {
            throw CollectionError(.relocate(program.name), .core(error))
        }
    }

    // MARK: - References

    /// Puts map descriptors, data addresses, kfunc BTF ids and kernel symbol addresses into the
    /// instructions that name them.
    private func resolveReferences(
        in program: inout ProgramSpec, at indices: [Int], context: inout ProgramLoadContext
    ) throws(CollectionError) {
        for index in indices where index < program.instructions.count {
            let instruction = program.instructions[index]
            guard let symbol = instruction.symbolReference else { continue }
            func failure(_ why: String) -> CollectionError {
                CollectionError(.link(program.name), .unresolvedReference(instruction: index, symbol: symbol, why: why))
            }
            if instruction.referencesMap {
                guard let map = objects.maps[symbol] else { throw failure("map not created") }
                let descriptor = map.descriptor.rawValue
                guard descriptor > 0 else { throw failure("map closed") }
                if instruction.loadImmediateSource == .mapValue {
                    let offset = UInt32(truncatingIfNeeded: instruction.constant >> 32)
                    // An arena's "value" is its pages: `__arena` globals sit at their offset in it.
                    let valueSize =
                        map.type == .arena ? UInt32(clamping: map.arenaByteCount ?? Int(UInt32.max)) : map.valueSize
                    guard offset < valueSize || (offset == 0 && valueSize == 0) else {
                        throw CollectionError(
                            .link(program.name),
                            .dataOffsetOutOfRange(instruction: index, map: symbol, offset: offset, valueSize: valueSize))
                    }
                    program.instructions[index].constant = Int64(offset) << 32 | Int64(UInt32(bitPattern: descriptor))
                } else {
                    program.instructions[index].constant = Int64(UInt32(bitPattern: descriptor))
                }
                continue
            }
            if instruction.isKernelFunctionCall {
                try resolveKernelFunctionCall(&program.instructions[index], symbol: symbol, index: index, program: program.name, context: &context)
                continue
            }
            guard instruction.isWide, let kernelSymbol = spec.kernelSymbols[symbol] else { continue }
            try resolveKernelVariable(&program.instructions[index], symbol: kernelSymbol, index: index, program: program.name)
        }
    }

    private func resolveKernelFunctionCall(
        _ instruction: inout Instruction, symbol: String, index: Int, program: String, context: inout ProgramLoadContext
    ) throws(CollectionError) {
        let isWeak = spec.kernelSymbols[symbol]?.isWeak ?? false
        guard let found = try findKernelType(named: symbol, kind: .function) else {
            guard isWeak else {
                throw CollectionError(.link(program), .kernelSymbolNotFound(name: symbol, kind: .kernelSymbol))
            }
            let position = spec.kernelSymbols.keys.sorted().firstIndex(of: symbol) ?? 0
            instruction.source = Register(rawValue: CallKind.helper.rawValue)
            instruction.offset = 0
            instruction.constant = Int64(Self.missingKernelFunctionHelperBase &+ Int32(truncatingIfNeeded: position))
            return
        }
        instruction.constant = Int64(found.id.rawValue)
        guard let module = found.module else {
            instruction.offset = 0
            return
        }
        let raw = try moduleBTFDescriptor(module, step: .link(program))
        if context.descriptorArray.isEmpty {
            // Index 0 means vmlinux, so the array starts with a slot that is never used.
            context.descriptorArray = [0]
        }
        let slot: Int
        if let existing = context.descriptorArray.firstIndex(of: raw), existing > 0 {
            slot = existing
        } else {
            context.descriptorArray.append(raw)
            slot = context.descriptorArray.count - 1
        }
        guard let offset = Int16(exactly: slot) else {
            throw CollectionError(.link(program), .unresolvedReference(instruction: index, symbol: symbol, why: "too many module BTFs"))
        }
        instruction.offset = offset
    }

    private func resolveKernelVariable(
        _ instruction: inout Instruction, symbol: KernelSymbolSpec, index: Int, program: String
    ) throws(CollectionError) {
        if instruction.loadImmediateSource == .btfID {
            // `bpf_ksym_exists(kfunc)` loads a kfunc's address the same way.
            let kind: BTFKind = symbol.kind == .function ? .function : .variable
            guard let found = try findKernelType(named: symbol.name, kind: kind) else {
                guard symbol.isWeak else {
                    throw CollectionError(.link(program), .kernelSymbolNotFound(name: symbol.name, kind: .kernelSymbol))
                }
                instruction.source = Register(rawValue: LoadImmediateSource.value.rawValue)
                instruction.constant = 0
                return
            }
            var moduleDescriptor: Int32 = 0
            if let module = found.module {
                moduleDescriptor = try moduleBTFDescriptor(module, step: .link(program))
            }
            instruction.constant = Int64(moduleDescriptor) << 32 | Int64(found.id.rawValue)
            return
        }
        guard let address = try kernel.kernelSymbolAddress(symbol.name) else {
            guard symbol.isWeak else {
                throw CollectionError(.link(program), .kernelSymbolNotFound(name: symbol.name, kind: .kernelSymbol))
            }
            instruction.constant = 0
            return
        }
        instruction.constant = Int64(bitPattern: address)
    }

    /// A type named `name` of `kind` in vmlinux, else in the first module that has one.
    func findKernelType(named name: String, kind: BTFKind) throws(CollectionError) -> (id: BTFTypeID, module: String?)? {
        let vmlinux = try kernel.vmlinux()
        if let id = vmlinux.typeID(named: name, kind: kind) {
            return (id, nil)
        }
        for (module, moduleSpec) in try kernel.modules() {
            if let id = moduleSpec.typeID(named: name, kind: kind), id >= moduleSpec.firstTypeID {
                return (id, module)
            }
        }
        return nil
    }

    // MARK: - Attach targets

    /// Sets `attach_btf_id` (and the module's or the target program's descriptor) for tracing,
    /// LSM, iterator and `freplace` programs.
    private func resolveAttachTarget(of program: ProgramSpec, context: inout ProgramLoadContext) throws(CollectionError) {
        guard program.type == .tracing || program.type == .lsm || program.type == .ext else { return }
        guard let target = program.attachTarget, !target.isEmpty else {
            if program.type == .ext || options.attachTargetPrograms[program.name] != nil {
                throw CollectionError(
                    .program(program.name), .attachTargetNotFound(program: program.name, target: "", why: "the section names no function"))
            }
            return
        }
        if let targetProgram = options.attachTargetPrograms[program.name] {
            try resolveProgramTarget(program, function: target, in: targetProgram, context: &context)
            return
        }
        if program.type == .ext {
            throw CollectionError(
                .program(program.name),
                .attachTargetNotFound(program: program.name, target: target, why: "freplace needs a target program (CollectionOptions.attachTargetPrograms)"))
        }
        var name = target
        var kind = BTFKind.function
        switch program.attachType {
        case .traceRawTp?:
            name = "btf_trace_" + target
            kind = .typedef
        case .traceIter?:
            name = "bpf_iter_" + target
        case .lsmMAC?, .lsmCgroup?:
            name = "bpf_lsm_" + target
        default:
            break
        }
        var module: String?
        if let colon = name.firstIndex(of: ":") {
            module = String(name[..<colon])
            name = String(name[name.index(after: colon)...])
        }
        let found: (id: BTFTypeID, module: String?)?
        if let module {
            let modules = try kernel.modules()
            found = modules.first { $0.name == module }.flatMap { entry in
                entry.spec.typeID(named: name, kind: kind).map { ($0, module) }
            }
        } else {
            found = try findKernelType(named: name, kind: kind)
        }
        guard let found else {
            throw CollectionError(
                .program(program.name), .attachTargetNotFound(program: program.name, target: target, why: "no \(kind) \(name) in kernel BTF"))
        }
        context.attachBTFID = found.id.rawValue
        if let module = found.module {
            context.attachObjectDescriptor = UInt32(bitPattern: try moduleBTFDescriptor(module, step: .program(program.name)))
        }
    }

    /// The function `function` in the BTF of the loaded program `target`.
    private func resolveProgramTarget(
        _ program: ProgramSpec, function: String, in target: Program, context: inout ProgramLoadContext
    ) throws(CollectionError) {
        let info: Program.Info
        do {
            info = try target.info()
        } catch {
            throw CollectionError(.program(program.name), .program(error))
        }
        guard info.btfID != 0 else {
            throw CollectionError(
                .program(program.name), .attachTargetNotFound(program: program.name, target: function, why: "the target program has no BTF"))
        }
        let targetBTF: BTFSpec
        do {
            targetBTF = try KernelBTF.load(id: info.btfID)
        } catch {
            throw CollectionError(.program(program.name), .btf(error))
        }
        guard let id = targetBTF.typeID(named: function, kind: .function) else {
            throw CollectionError(
                .program(program.name), .attachTargetNotFound(program: program.name, target: function, why: "no function of this name in the target program's BTF"))
        }
        context.attachBTFID = id.rawValue
        context.attachObjectDescriptor = UInt32(bitPattern: target.descriptor.rawValue)
    }
}
