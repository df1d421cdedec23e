import EBPF

/// `ebpf prog list|show|dump`.
enum ProgramVerbs {
    /// The fields bpftool prints for `prog list -j`, in its order.
    static func fields(_ program: Program, _ info: Program.Info) -> [(String, JSONText)] {
        var fields: [(String, JSONText)] = [("id", .int(info.id)), ("type", .string(info.type.shortName))]
        let name = fullName(info)
        if !name.isEmpty { fields.append(("name", .string(name))) }
        fields.append(("tag", .string(info.tag)))
        fields.append(("gpl_compatible", .bool(info.isGPLCompatible)))
        if info.runTimeNanoseconds > 0 {
            fields.append(("run_time_ns", .int(info.runTimeNanoseconds)))
            fields.append(("run_cnt", .int(info.runCount)))
        }
        if info.recursionMisses > 0 { fields.append(("recursion_misses", .int(info.recursionMisses))) }
        fields.append(("loaded_at", .int(ObjectCommand.wallClockSeconds(bootNanoseconds: info.loadTime))))
        fields.append(("uid", .int(info.createdByUID)))
        fields.append(("bytes_xlated", .int(info.translatedInstructionCount * 8)))
        fields.append(("jited", .bool(info.jitedSize > 0)))
        if info.jitedSize > 0 { fields.append(("bytes_jited", .int(info.jitedSize))) }
        if let memlock = try? program.memoryLockedBytes() { fields.append(("bytes_memlock", .int(memlock))) }
        if !info.mapIDs.isEmpty { fields.append(("map_ids", .array(info.mapIDs.map { .int($0) }))) }
        if info.btfID > 0 { fields.append(("btf_id", .int(info.btfID))) }
        if info.verifiedInstructions > 0 { fields.append(("verified_insns", .int(info.verifiedInstructions))) }
        if info.attachBTFTypeID > 0 {
            fields.append(("attach_btf_obj_id", .int(info.attachBTFObjectID)))
            fields.append(("attach_btf_id", .int(info.attachBTFTypeID)))
            if let target = attachTargetName(info) { fields.append(("attach_target", .string(target))) }
        }
        return fields
    }

    /// The kernel keeps 15 bytes of a name; like bpftool, a name cut there is completed from the
    /// program's BTF (the first function's name).
    static func fullName(_ info: Program.Info) -> String {
        guard info.name.utf8.count == 15, info.btfID > 0, info.functionInfoCount > 0,
            let program = try? Program(id: info.id)
        else { return info.name }
        defer { try? program.close() }
        guard let translated = try? program.translatedProgram(), let first = translated.functionInfos.first,
            let btf = try? KernelBTF.load(id: info.btfID), let name = try? btf.name(of: BTFTypeID(first.typeID)),
            name.hasPrefix(info.name)
        else { return info.name }
        return name
    }

    /// The name of the BTF function a tracing or LSM program was loaded against.
    static func attachTargetName(_ info: Program.Info) -> String? {
        // An object ID of 0 (before Linux 5.13 reported it) means vmlinux too.
        let object = info.attachBTFObjectID == 0 ? nil : try? LoadedBTFObject(id: info.attachBTFObjectID)
        let spec: BTFSpec?
        if object == nil || object?.name == "vmlinux" {
            spec = try? KernelBTF.cache.vmlinux()
        } else if object?.isKernel == true {
            // Module BTF is split over vmlinux.
            spec = (try? KernelBTF.cache.vmlinux()).flatMap { try? KernelBTF.load(id: info.attachBTFObjectID, base: $0) }
        } else {
            spec = try? KernelBTF.load(id: info.attachBTFObjectID)
        }
        return spec.flatMap { try? $0.name(of: BTFTypeID(info.attachBTFTypeID)) }
    }

    static func text(_ fields: [(String, JSONText)]) -> String {
        var values: [String: JSONText] = [:]
        for (key, value) in fields { values[key] = value }
        func plain(_ key: String) -> String {
            switch values[key] {
            case .string(let text): text
            case .number(let text): text
            case .bool(let value): value ? "true" : "false"
            case .array(let elements): elements.map(\.rendered).joined(separator: ",")
            default: ""
            }
        }
        var line = "\(plain("id")): \(plain("type"))"
        if values["name"] != nil { line += "  name \(plain("name"))" }
        line += "  tag \(plain("tag"))"
        if plain("gpl_compatible") == "true" { line += "  gpl" }
        if values["run_time_ns"] != nil { line += "  run_time_ns \(plain("run_time_ns")) run_cnt \(plain("run_cnt"))" }
        var second = "\tloaded_at \(plain("loaded_at"))  uid \(plain("uid"))"
        second += "\n\txlated \(plain("bytes_xlated"))B"
        second += values["bytes_jited"] != nil ? "  jited \(plain("bytes_jited"))B" : "  not jited"
        if values["bytes_memlock"] != nil { second += "  memlock \(plain("bytes_memlock"))B" }
        if values["map_ids"] != nil { second += "  map_ids \(plain("map_ids"))" }
        if values["btf_id"] != nil { second += "\n\tbtf_id \(plain("btf_id"))" }
        if values["attach_target"] != nil { second += "\n\tattach_target \(plain("attach_target"))" }
        return line + "\n" + second
    }

    static func list(id: UInt32?, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        ObjectCommand.list(.program, noun: "program", id: id, json: json, text: text, output: output, errorOutput: errorOutput) { id in
            let program: Program
            do throws(ProgramError) {
                program = try Program(id: id)
            } catch {
                return error.syscallError?.errno == .noSuchFileOrDirectory ? .vanished("\(error)") : .failed("\(error)")
            }
            defer { try? program.close() }
            do {
                return .fields(fields(program, try program.info()))
            } catch {
                return .failed("\(error)")
            }
        }
    }

    // MARK: - dump xlated

    static func dumpTranslated(id: UInt32, source: Bool, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        let program: Program
        let translated: TranslatedProgram
        do {
            program = try Program(id: id)
        } catch {
            errorOutput("ebpf: program \(id): \(error)")
            return 1
        }
        defer { try? program.close() }
        do {
            translated = try program.translatedProgram()
        } catch {
            errorOutput("ebpf: program \(id): \(error)")
            return 1
        }
        if translated.instructions.isEmpty {
            errorOutput("ebpf: program \(id): the kernel shows no instructions (needs CAP_SYS_ADMIN or CAP_PERFMON)")
            return 1
        }
        // Without the program's BTF the dump still shows every instruction, only no names or lines.
        var btf: BTFSpec?
        if translated.btfID > 0 {
            do {
                btf = try KernelBTF.load(id: translated.btfID)
            } catch {
                errorOutput("ebpf: program \(id): BTF \(translated.btfID): \(error); printing without source lines")
            }
        }
        let functions = Dictionary(
            translated.functionInfos.map { info in
                (info.slot, (try? btf?.name(of: BTFTypeID(info.typeID))) ?? "func_\(info.slot)")
            }, uniquingKeysWith: { first, _ in first })
        let lines = Dictionary(translated.lineInfos.map { ($0.slot, $0) }, uniquingKeysWith: { first, _ in first })
        let width = String(max((translated.instructions.last?.slot ?? 0), 1)).count
        var textLines: [String] = []
        var objects: [JSONText] = []
        for entry in translated.instructions {
            let disassembly = disassemble(entry)
            var object: [(String, JSONText)] = [
                ("slot", .int(entry.slot)), ("opcode", .string("0x" + ObjectCommand.hex([entry.opCode]))),
                ("disasm", .string(disassembly)), ("bytes", .string(ObjectCommand.hex(entry.bytes))),
            ]
            if let function = functions[entry.slot] {
                textLines.append("\(function):")
                object.append(("function", .string(function)))
            }
            if source, let line = lines[entry.slot] {
                let text = btf?.string(at: line.lineOffset) ?? ""
                let file = btf?.string(at: line.fileNameOffset) ?? ""
                let trimmed = String(text.drop(while: { $0 == " " || $0 == "\t" }))
                textLines.append("; \(trimmed) [\(file):\(line.lineNumber):\(line.column)]")
                object.append(("src", .string(trimmed)))
                object.append(("file", .string(file)))
                object.append(("line", .int(line.lineNumber)))
                object.append(("column", .int(line.column)))
            }
            let slot = String(entry.slot)
            textLines.append(
                String(repeating: " ", count: max(width - slot.count, 0) + 3) + slot + ": (" + ObjectCommand.hex([entry.opCode]) + ") "
                    + disassembly)
            objects.append(.object(object))
        }
        output(json ? JSONText.array(objects).rendered : textLines.joined(separator: "\n"))
        return 0
    }

    /// The instruction in this project's (llvm-objdump) syntax, with map references the kernel
    /// wrote into the dump (`lddw` with source register 1 or 2 and the map's ID) spelled out.
    static func disassemble(_ entry: TranslatedInstruction) -> String {
        guard let instruction = entry.instruction else { return "<unknown 0x\(ObjectCommand.hex(entry.bytes, separator: ""))>" }
        var text = instruction.description
        if entry.bytes.count == 16 {
            let mapID = UInt32(truncatingIfNeeded: instruction.constant)
            let offset = UInt32(truncatingIfNeeded: instruction.constant >> 32)
            switch entry.bytes[1] >> 4 {
            case 1: text += " ; map[id:\(mapID)]"
            case 2: text += " ; map[id:\(mapID)][0]+\(offset)"
            default: break
            }
        }
        return text
    }

    // MARK: - dump jited

    static func dumpJITed(id: UInt32, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        let image: JITedImage
        let translated: TranslatedProgram?
        do {
            let program = try Program(id: id)
            defer { try? program.close() }
            image = try program.jitedImage()
            translated = try? program.translatedProgram()
        } catch {
            errorOutput("ebpf: program \(id): \(error)")
            return 1
        }
        guard !image.bytes.isEmpty else {
            errorOutput("ebpf: program \(id) is not JIT-compiled, or the kernel hides its code from this caller")
            return 1
        }
        var names: [String] = []
        if let translated, translated.btfID > 0, let btf = try? KernelBTF.load(id: translated.btfID) {
            names = translated.functionInfos.map { (try? btf.name(of: BTFTypeID($0.typeID))) ?? "" }
        }
        let lengths = image.functionLengths.isEmpty ? [UInt32(truncatingIfNeeded: image.bytes.count)] : image.functionLengths
        var offset = 0
        var textLines: [String] = []
        var objects: [JSONText] = []
        for (index, length) in lengths.enumerated() {
            let end = min(offset + Int(length), image.bytes.count)
            let bytes = image.bytes[offset..<end]
            let name = index < names.count && !names[index].isEmpty ? names[index] : "func_\(index)"
            let address = index < image.functionAddresses.count ? image.functionAddresses[index] : 0
            objects.append(
                .object([
                    ("name", .string(name)), ("address", .string("0x" + String(address, radix: 16))),
                    ("bytes", .string(ObjectCommand.hex(bytes, separator: ""))),
                ]))
            textLines.append("\(name) (0x\(String(address, radix: 16)), \(bytes.count) bytes):")
            var lineStart = bytes.startIndex
            while lineStart < bytes.endIndex {
                let lineEnd = min(lineStart + 16, bytes.endIndex)
                let relative = String(lineStart - bytes.startIndex, radix: 16)
                textLines.append(
                    String(repeating: " ", count: max(6 - relative.count, 0)) + relative + ":  "
                        + ObjectCommand.hex(bytes[lineStart..<lineEnd]))
                lineStart = lineEnd
            }
            offset = end
        }
        output(json ? JSONText.array(objects).rendered : textLines.joined(separator: "\n"))
        return 0
    }
}
