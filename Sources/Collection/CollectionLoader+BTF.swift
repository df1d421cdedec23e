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
        let graph: BTFTypeGraph
        do {
            graph = try types.typeGraph()
        } catch {
            throw CollectionError(.loadBTF, .btf(error))
        }
        let fixed = spec.fixedUpForKernel(graph)
        let sanitized: BTFTypeGraph
        do {
            let required = BTFFeatures(requiredBy: fixed)
            let supported = try BTFFeatureProbes.kernel.supported(required)
            sanitized = fixed.sanitized(for: supported.union(BTFFeatures.all.subtracting(required)))
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(error))
        }
        var offsets: [String: UInt32] = [:]
        var recordsByProgram: [String: [UInt32]] = [:]
        let bytes: [UInt8]
        do {
            var builder = try BTFBuilder(graph: sanitized, base: types.base)
            func offset(of string: String) throws(BTFMarshalError) -> UInt32 {
                if let known = offsets[string] { return known }
                let added = try builder.addString(string)
                offsets[string] = added
                return added
            }
            // Records still pointing into the object's string table are translated by offset:
            // each string is then decoded and hashed once, not once per record (source lines
            // are long, and every program repeats its subprograms' records).
            var translated: [UInt32: UInt32] = [:]
            func offset(ofObjectString objectOffset: UInt32, _ string: () -> String) throws(BTFMarshalError) -> UInt32 {
                if let known = translated[objectOffset] { return known }
                let added = try offset(of: string())
                translated[objectOffset] = added
                return added
            }
            for (name, program) in programs {
                var records: [UInt32] = []
                records.reserveCapacity(program.lineInfos.count * 4)
                for info in program.lineInfos {
                    let fileName: UInt32
                    let line: UInt32
                    if let objectOffsets = info.stringOffsets(in: types) {
                        fileName = try offset(ofObjectString: objectOffsets.fileName) { info.fileName }
                        line = try offset(ofObjectString: objectOffsets.line) { info.line }
                    } else {
                        fileName = try offset(of: info.fileName)
                        line = try offset(of: info.line)
                    }
                    LoadedObjectBTF.appendRecord(info, fileName: fileName, line: line, to: &records)
                }
                recordsByProgram[name] = records
            }
            bytes = try builder.bytes(byteOrder: .host)
        } catch {
            throw CollectionError(.loadBTF, .btfLoad(.marshalling(error)))
        }
        let handle: BTFHandle
        do {
            handle = try BTFHandle(bytes: bytes)
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

extension CollectionSpec {
    /// The object's BTF as the kernel accepts it (what libbpf does before `BPF_BTF_LOAD`):
    ///
    /// - a `DATASEC` of a data-section map gets the map's size and each variable the offset the
    ///   ELF symbol gave it (clang leaves both to the loader);
    /// - extern variables (`.kconfig`) become allocated globals, since the kernel refuses
    ///   extern linkage on variables;
    /// - a `DATASEC` without a map (`.ksyms`, whose entries are extern functions and kernel
    ///   variables) becomes a section of 4-byte `int` variables, one per entry, since the
    ///   kernel wants only variables there;
    /// - extern functions (kfunc declarations) become static, the linkage every kernel takes,
    ///   and their prototypes' unnamed parameters get names (`arg1`...), which the kernel
    ///   demands of every `FUNC`.
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
        let first = Int(graph.firstTypeID.rawValue)
        for index in first..<graph.types.count {
            switch types[index] {
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
                if let map = maps[section.name] {
                    section.size = map.valueSize
                    for position in section.variables.indices {
                        let entry = section.variables[position]
                        guard case .variable(let variable)? = graph[entry.type],
                            let variableSpec = variables[variable.name], variableSpec.mapName == section.name
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
