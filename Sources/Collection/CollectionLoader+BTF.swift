import EBPFASM
import EBPFBTF
import EBPFSys

/// The object's BTF as loaded into the kernel for one collection load.
struct LoadedObjectBTF {
    let handle: BTFHandle
    /// The descriptor's number; valid while ``handle`` is open, which it is for the whole load.
    let rawDescriptor: UInt32
    /// Offsets of the line info strings (file names and source lines) in the loaded blob, whose
    /// string table differs from the object's.
    let stringOffsets: [String: UInt32]
    /// The `bpf_line_info` records of each program the BTF was loaded for, by program name,
    /// made while the strings were added so that no string is read twice.
    var lineInfoRecordsByProgram: [String: [UInt32]] = [:]

    /// `bpf_line_info` records (instruction, file name, line, line number and column) for
    /// `infos`, four words each.
    func lineInfoRecords(for infos: [BTFLineInfo]) -> [UInt32] {
        var records: [UInt32] = []
        records.reserveCapacity(infos.count * 4)
        for info in infos {
            Self.appendRecord(
                info, fileName: stringOffsets[info.fileName] ?? 0, line: stringOffsets[info.line] ?? 0, to: &records)
        }
        return records
    }

    static func appendRecord(_ info: BTFLineInfo, fileName: UInt32, line: UInt32, to records: inout [UInt32]) {
        records.append(info.instructionOffset / 8)
        records.append(fileName)
        records.append(line)
        records.append(info.lineNumber << 10 | (info.column & 0x3ff))
    }
}

extension CollectionLoader {
    /// Fixes up the object's BTF the way the kernel needs it, sanitises it for the running
    /// kernel and loads it, adding the strings the programs' line info refers to.
    func loadObjectBTF(programs: [String: ProgramSpec]) throws(CollectionError) -> LoadedObjectBTF? {
        guard let types = spec.types else { return nil }
        // The object's records are patched in place rather than decoded and marshalled again:
        // its string table stays as it is, so line info keeps the offsets `.BTF.ext` gave it.
        var editor = BTFBlobEditor(types)
        var offsets: [String: UInt32] = [:]
        var recordsByProgram: [String: [UInt32]] = [:]
        do {
            try spec.fixUpForKernel(&editor)
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(.marshalling(error)))
        }
        let required = editor.requiredFeatures
        let supported: BTFFeatures
        do {
            // With a token the probes need it too: inside a user namespace BTF loads without it fail.
            let probes = token.map(Self.tokenFeatureProbes) ?? BTFFeatureProbes.kernel
            supported = try probes.supported(required)
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(error))
        }
        let bytes: [UInt8]
        do throws(BTFMarshalError) {
            try editor.sanitize(for: supported.union(BTFFeatures.all.subtracting(required)))
            func offset(of string: String) throws(BTFMarshalError) -> UInt32 {
                if let known = offsets[string] { return known }
                let added = try editor.addString(string)
                offsets[string] = added
                return added
            }
            for (name, program) in programs {
                var records: [UInt32] = []
                records.reserveCapacity(program.lineInfos.count * 4)
                for info in program.lineInfos {
                    let fileName: UInt32
                    let line: UInt32
                    if let objectOffsets = info.stringOffsets(in: types) {
                        fileName = objectOffsets.fileName
                        line = objectOffsets.line
                    } else {
                        fileName = try offset(of: info.fileName)
                        line = try offset(of: info.line)
                    }
                    LoadedObjectBTF.appendRecord(info, fileName: fileName, line: line, to: &records)
                }
                recordsByProgram[name] = records
            }
            bytes = try editor.bytes()
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(.marshalling(error)))
        }
        let handle: BTFHandle
        do {
            handle = try loadBTF(bytes)
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(error))
        }
        let raw: Int32
        do {
            raw = try handle.withDescriptor { (descriptor: borrowing FileDescriptor) throws(BTFLoadError) -> Int32 in
                descriptor.rawValue
            }
        } catch {
            try? handle.close()
            throw CollectionError(.loadBTF, .btfLoad(error))
        }
        return LoadedObjectBTF(
            handle: handle, rawDescriptor: UInt32(bitPattern: raw), stringOffsets: offsets,
            lineInfoRecordsByProgram: recordsByProgram)
    }
}

extension CollectionLoader {
    /// Loads a BTF blob, with the load's BPF token when there is one.
    func loadBTF(_ bytes: [UInt8]) throws(BTFLoadError) -> BTFHandle {
        try Self.loadBTF(bytes, token: token)
    }

    /// BTF feature probes that load their blobs with `token`, for this load only (a token's
    /// answers hold for its file system's delegation, not for the process).
    static func tokenFeatureProbes(_ token: Int32) -> BTFFeatureProbes {
        BTFFeatureProbes { (feature: BTFFeatures) throws(BTFLoadError) -> Bool in
            let blob: [UInt8]
            do throws(BTFMarshalError) {
                blob = try BTFFeatureProbes.probeBlob(for: feature)
            } catch {
                throw .marshalling(error)
            }
            do throws(BTFLoadError) {
                let handle = try loadBTF(blob, token: token)
                try? handle.close()
                return true
            } catch {
                guard case .rejected(let syscall) = error else { throw error }
                if syscall.errno == .invalidArgument { return false }
                throw .probeFailed(feature: feature, syscall)
            }
        }
    }

    /// Loads a BTF blob, with `token` (`btf_token_fd` and `BPF_F_TOKEN_FD`) when given.
    static func loadBTF(_ bytes: [UInt8], token: Int32?) throws(BTFLoadError) -> BTFHandle {
        try BTFHandle(bytes: bytes, token: token)
    }
}

extension CollectionSpec {
    /// The object's BTF as the kernel accepts it (what libbpf does before `BPF_BTF_LOAD`):
    ///
    /// - a `DATASEC` of a data-section map gets the map's size and each variable the offset the
    ///   ELF symbol gave it (clang leaves both to the loader); so does `.addr_space.1`, whose
    ///   size is that of the arena's `__arena` globals;
    /// - extern variables (`.kconfig`) become allocated globals, since the kernel refuses
    ///   extern linkage on variables;
    /// - a `DATASEC` without a map (`.ksyms`, whose entries are extern functions and kernel
    ///   variables) becomes a section of 4-byte `int` variables, one per entry, since the
    ///   kernel wants only variables there;
    /// - extern functions (kfunc declarations) become static, the linkage every kernel takes,
    ///   and their prototypes' unnamed parameters get names (`arg1`...), which the kernel
    ///   demands of every `FUNC`.
    /// - global functions of hidden subprograms (``ProgramSpec/isHidden``) become static, as
    ///   libbpf makes them, so the verifier checks them in their caller's context.
    ///
    /// Type ids stay as they are; new types (an `int` and the replacement variables) are added
    /// after the last one.
    public func fixedUpForKernel(_ graph: BTFTypeGraph) -> BTFTypeGraph {
        var types = graph.types
        var intID: BTFTypeID?
        func intType() -> BTFTypeID {
            if let intID { return intID }
            let id = BTFTypeID(rawValue: UInt32(truncatingIfNeeded: types.count))
            types.append(.int(BTFInt(name: "int", size: 4, encoding: .signed, offset: 0, bits: 32)))
            intID = id
            return id
        }
        let hidden = hiddenSubprograms
        let first = Int(graph.firstTypeID.rawValue)
        for index in first..<graph.types.count {
            switch types[index] {
            case .function(var function) where function.linkage == .global && hidden.contains(function.name):
                function.linkage = .static
                types[index] = .function(function)
            case .function(var function) where function.linkage == .extern:
                function.linkage = .static
                types[index] = .function(function)
                let prototype = Int(function.prototype.rawValue)
                if prototype < types.count, case .functionPrototype(var signature) = types[prototype] {
                    for position in signature.parameters.indices where signature.parameters[position].name.isEmpty {
                        // A type of 0 marks variadic functions; that entry has no name either.
                        guard signature.parameters[position].type.rawValue != 0 else { continue }
                        signature.parameters[position].name = "arg\(position + 1)"
                    }
                    types[prototype] = .functionPrototype(signature)
                }
            case .variable(var variable) where variable.linkage == .extern:
                variable.linkage = .global
                types[index] = .variable(variable)
            case .dataSection(var section):
                // `__arena` globals live in the arena map rather than in a map of their section's name.
                let arena = section.name == Self.arenaGlobalsSection ? arenaGlobalsMap : nil
                if let map = arena ?? maps[section.name] {
                    section.size = arena?.arenaGlobals.map { UInt32(truncatingIfNeeded: $0.count) } ?? map.valueSize
                    for position in section.variables.indices {
                        let entry = section.variables[position]
                        guard case .variable(let variable)? = graph[entry.type],
                            let variableSpec = variables[variable.name], variableSpec.mapName == map.name
                        else { continue }
                        section.variables[position].offset = variableSpec.offset
                        section.variables[position].size = variableSpec.size
                    }
                    // The kernel wants the entries in offset order.
                    section.variables.sort { $0.offset < $1.offset }
                } else {
                    let int = intType()
                    var entries: [BTFVariableSectionInfo] = []
                    for (position, entry) in section.variables.enumerated() {
                        let offset = UInt32(truncatingIfNeeded: position * 4)
                        // A kernel variable keeps its id, retyped; the kernel refuses `void`
                        // variables and extern linkage. A kfunc gets a variable of its own.
                        if case .variable(var variable)? = graph[entry.type] {
                            variable.type = int
                            variable.linkage = .global
                            types[Int(entry.type.rawValue)] = .variable(variable)
                            entries.append(BTFVariableSectionInfo(type: entry.type, offset: offset, size: 4))
                            continue
                        }
                        let name = graph[entry.type]?.name ?? "ksym_\(position)"
                        let id = BTFTypeID(rawValue: UInt32(truncatingIfNeeded: types.count))
                        types.append(.variable(BTFVariable(name: name, type: int, linkage: .global)))
                        entries.append(BTFVariableSectionInfo(type: id, offset: offset, size: 4))
                    }
                    section.variables = entries
                    section.size = UInt32(truncatingIfNeeded: entries.count * 4)
                }
                types[index] = .dataSection(section)
            default:
                continue
            }
        }
        return BTFTypeGraph(types: types, firstTypeID: graph.firstTypeID)
    }
}

extension CollectionSpec {
    /// The fix-ups of ``fixedUpForKernel(_:)``, made in place on the object's raw BTF: the same
    /// types come out under the same ids, without decoding the BTF or rebuilding its strings.
    public func fixUpForKernel(_ btf: inout BTFBlobEditor) throws(BTFMarshalError) {
        var intID: BTFTypeID?
        func intType() throws(BTFMarshalError) -> BTFTypeID {
            if let intID { return intID }
            let signedInt32 = UInt32(BTFIntEncoding.signed.rawValue) << 24 | 32
            let id = try btf.appendRecord(
                nameOffset: try btf.addString("int"), kind: .int, sizeOrType: 4, trailing: [signedInt32])
            intID = id
            return id
        }
        let hidden = hiddenSubprograms
        let end = btf.nextTypeID
        var id = btf.firstTypeID
        while id < end {
            defer { id.rawValue &+= 1 }
            switch btf.kind(of: id) {
            case .function? where !hidden.isEmpty && btf.vlen(of: id) == Int(BTFLinkage.global.rawValue):
                guard let name = btf.nameOffset(of: id).flatMap(btf.string(at:)), hidden.contains(name) else { continue }
                btf.setInfo(kind: .function, vlen: Int(BTFLinkage.static.rawValue), of: id)
            case .function? where btf.vlen(of: id) == Int(BTFLinkage.extern.rawValue):
                btf.setInfo(kind: .function, vlen: Int(BTFLinkage.static.rawValue), of: id)
                let prototype = BTFTypeID(rawValue: btf.word(2, of: id) ?? 0)
                guard btf.kind(of: prototype) == .functionPrototype else { continue }
                for position in 0..<btf.vlen(of: prototype) {
                    // Parameter `position` is the pair of words (name, type) after the header.
                    let nameWord = 3 &+ position &* 2
                    // A type of 0 marks variadic functions; that entry has no name either.
                    guard btf.word(nameWord &+ 1, of: prototype) != 0,
                        btf.isEmptyString(at: btf.word(nameWord, of: prototype) ?? 0)
                    else { continue }
                    btf.setWord(try btf.addString("arg\(position + 1)"), nameWord, of: prototype)
                }
            case .variable? where btf.word(3, of: id) == BTFLinkage.extern.rawValue:
                btf.setWord(BTFLinkage.global.rawValue, 3, of: id)
            case .dataSection?:
                let sectionName = btf.string(at: btf.word(0, of: id) ?? 0) ?? ""
                let count = btf.vlen(of: id)
                // Entry `position` is the triple of words (type, offset, size) after the header.
                func entryWord(_ position: Int, _ field: Int) -> Int { 3 &+ position &* 3 &+ field }
                // `__arena` globals live in the arena map rather than in a map of their section's name.
                let arena = sectionName == Self.arenaGlobalsSection ? arenaGlobalsMap : nil
                if let map = arena ?? maps[sectionName] {
                    btf.setWord(arena?.arenaGlobals.map { UInt32(truncatingIfNeeded: $0.count) } ?? map.valueSize, 2, of: id)
                    var entries: [BTFVariableSectionInfo] = []
                    entries.reserveCapacity(count)
                    for position in 0..<count {
                        var entry = BTFVariableSectionInfo(
                            type: BTFTypeID(rawValue: btf.word(entryWord(position, 0), of: id) ?? 0),
                            offset: btf.word(entryWord(position, 1), of: id) ?? 0,
                            size: btf.word(entryWord(position, 2), of: id) ?? 0)
                        if btf.kind(of: entry.type) == .variable,
                            let variableName = btf.nameOffset(of: entry.type).flatMap(btf.string(at:)),
                            let variableSpec = variables[variableName], variableSpec.mapName == map.name
                        {
                            entry.offset = variableSpec.offset
                            entry.size = variableSpec.size
                        }
                        entries.append(entry)
                    }
                    // The kernel wants the entries in offset order.
                    entries.sort { $0.offset < $1.offset }
                    for (position, entry) in entries.enumerated() {
                        btf.setWord(entry.type.rawValue, entryWord(position, 0), of: id)
                        btf.setWord(entry.offset, entryWord(position, 1), of: id)
                        btf.setWord(entry.size, entryWord(position, 2), of: id)
                    }
                } else {
                    let int = try intType()
                    for position in 0..<count {
                        let offset = UInt32(truncatingIfNeeded: position * 4)
                        let type = BTFTypeID(rawValue: btf.word(entryWord(position, 0), of: id) ?? 0)
                        var entryType = type
                        if btf.kind(of: type) == .variable {
                            // A kernel variable keeps its id, retyped; the kernel refuses `void`
                            // variables and extern linkage.
                            btf.setWord(int.rawValue, 2, of: type)
                            btf.setWord(BTFLinkage.global.rawValue, 3, of: type)
                        } else {
                            // A kfunc gets a variable of its own, named after it.
                            var name = btf.nameOffset(of: type)
                            if name == nil { name = try btf.addString("ksym_\(position)") }
                            entryType = try btf.appendRecord(
                                nameOffset: name ?? 0, kind: .variable, sizeOrType: int.rawValue,
                                trailing: [BTFLinkage.global.rawValue])
                        }
                        btf.setWord(entryType.rawValue, entryWord(position, 0), of: id)
                        btf.setWord(offset, entryWord(position, 1), of: id)
                        btf.setWord(4, entryWord(position, 2), of: id)
                    }
                    btf.setWord(UInt32(truncatingIfNeeded: count * 4), 2, of: id)
                }
            default:
                continue
            }
        }
    }
}

extension CollectionSpec {
    /// The names of the hidden subprograms, whose BTF functions the loader makes static.
    var hiddenSubprograms: Set<String> {
        var names: Set<String> = []
        for (name, subprogram) in subprograms where subprogram.isHidden { names.insert(name) }
        return names
    }
}
