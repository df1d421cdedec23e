import EBPF

/// `ebpf map list|show|dump`.
enum MapVerbs {
    /// The fields bpftool prints for `map list -j`, in its order.
    static func fields(_ map: Map, _ info: Map.Info) -> [(String, JSONText)] {
        var fields: [(String, JSONText)] = [("id", .int(info.id)), ("type", .string(info.type.shortName))]
        if !info.name.isEmpty { fields.append(("name", .string(info.name))) }
        fields.append(("flags", .int(info.flags.rawValue)))
        fields.append(("bytes_key", .int(info.keySize)))
        fields.append(("bytes_value", .int(info.valueSize)))
        fields.append(("max_entries", .int(info.maxEntries)))
        if info.mapExtra != 0 { fields.append(("map_extra", .int(info.mapExtra))) }
        let fdinfo = map.withFileDescriptorValue { Sys.descriptorInfo(descriptorValue: $0) } ?? nil
        if let memlock = fdinfo?["memlock"].flatMap({ UInt64($0) }) { fields.append(("bytes_memlock", .int(memlock))) }
        if let owner = fdinfo?["owner_prog_type"].flatMap({ UInt32($0) }) {
            fields.append(("owner_prog_type", .string(ProgramType(rawValue: owner).shortName)))
            if let jited = fdinfo?["owner_jited"].flatMap({ Int($0) }) { fields.append(("owner_jited", .bool(jited != 0))) }
        }
        if let frozen = fdinfo?["frozen"].flatMap({ Int($0) }) { fields.append(("frozen", .int(frozen))) }
        if info.btfID > 0 { fields.append(("btf_id", .int(info.btfID))) }
        if info.btfVmlinuxValueTypeID > 0 { fields.append(("btf_vmlinux_value_type_id", .int(info.btfVmlinuxValueTypeID))) }
        return fields
    }

    static func text(_ fields: [(String, JSONText)]) -> String {
        var values: [String: String] = [:]
        for (key, value) in fields {
            if case .string(let text) = value { values[key] = text } else { values[key] = value.rendered }
        }
        var line = "\(values["id"] ?? ""): \(values["type"] ?? "")"
        if let name = values["name"] { line += "  name \(name)" }
        line += "  flags 0x\(String(UInt32(values["flags"] ?? "0") ?? 0, radix: 16))"
        var second = "\tkey \(values["bytes_key"] ?? "")B  value \(values["bytes_value"] ?? "")B  max_entries \(values["max_entries"] ?? "")"
        if let memlock = values["bytes_memlock"] { second += "  memlock \(memlock)B" }
        if let extra = values["map_extra"] { second += "  map_extra \(extra)" }
        if let btf = values["btf_id"] { second += "\n\tbtf_id \(btf)" }
        if values["frozen"] == "1" { second += "\n\tfrozen" }
        return line + "\n" + second
    }

    static func list(id: UInt32?, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        ObjectCommand.list(.map, noun: "map", id: id, json: json, text: text, output: output, errorOutput: errorOutput) { id in
            let map: Map
            do throws(MapError) {
                map = try Map(id: id)
            } catch {
                return error.syscallError?.errno == .noSuchFileOrDirectory ? .vanished("\(error)") : .failed("\(error)")
            }
            defer { try? map.close() }
            do {
                return .fields(fields(map, try map.info()))
            } catch {
                return .failed("\(error)")
            }
        }
    }

    // MARK: - dump

    /// How a map's keys and values are read: through BTF types when the map has them.
    struct Decoder {
        var btf: BTFSpec?
        var keyType: BTFTypeID?
        var valueType: BTFTypeID?

        func decode(_ bytes: [UInt8], as type: BTFTypeID?) -> JSONText {
            if let btf, let type, let value = try? btf.value(of: type, in: bytes) { return .raw(value.json) }
            return .array(bytes.map { .string("0x" + ObjectCommand.hex([$0])) })
        }
    }

    static func decoder(for info: Map.Info, errorOutput: (String) -> Void) -> Decoder {
        var decoder = Decoder()
        if info.btfVmlinuxValueTypeID > 0 {
            decoder.btf = try? KernelBTF.cache.vmlinux()
            decoder.valueType = BTFTypeID(info.btfVmlinuxValueTypeID)
        } else if info.btfID > 0 {
            do {
                decoder.btf = try KernelBTF.load(id: info.btfID)
            } catch {
                errorOutput("ebpf: map \(info.id): BTF \(info.btfID): \(error); printing bytes")
            }
            if info.btfValueTypeID > 0 { decoder.valueType = BTFTypeID(info.btfValueTypeID) }
        }
        if info.btfKeyTypeID > 0 { decoder.keyType = BTFTypeID(info.btfKeyTypeID) }
        return decoder
    }

    /// One element as JSON: `{"key","value"}`, `{"key","values":[{"cpu","value"}]}` for per-CPU
    /// maps, `{"key","inner_map_id"}` for maps of maps and `{"key","prog_id"}` for program arrays.
    static func element(_ map: Map, _ info: Map.Info, _ decoder: Decoder, key: [UInt8], value: [UInt8]) -> JSONText {
        var keyText = decoder.decode(key, as: decoder.keyType)
        // Maps of maps are created without key BTF (the kernel takes none with an inner map);
        // array kinds are indexed by a 32-bit number all the same.
        if decoder.keyType == nil, key.count == 4, info.type.hasIndexKeys {
            keyText = .int(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        }
        var members: [(String, JSONText)] = [("key", keyText)]
        let storedID = value.count >= 4 ? value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0
        switch info.type {
        case .arrayOfMaps, .hashOfMaps:
            members.append(("inner_map_id", .int(storedID)))
        case .progArray:
            members.append(("prog_id", .int(storedID)))
        case _ where info.type.isPerCPU:
            let size = Int(info.valueSize)
            let slot = (size + 7) / 8 * 8
            var values: [JSONText] = []
            for cpu in 0..<map.valueCopies {
                let start = cpu * slot
                guard start + size <= value.count else { break }
                values.append(
                    .object([("cpu", .int(cpu)), ("value", decoder.decode(Array(value[start..<start + size]), as: decoder.valueType))]))
            }
            members.append(("values", .array(values)))
        default:
            members.append(("value", decoder.decode(value, as: decoder.valueType)))
        }
        return .object(members)
    }

    static func dump(id: UInt32, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        let map: Map
        let info: Map.Info
        do {
            map = try Map(id: id)
            info = try map.info()
        } catch {
            errorOutput("ebpf: map \(id): \(error)")
            return 1
        }
        defer { try? map.close() }
        let decoder = decoder(for: info, errorOutput: errorOutput)
        var elements: [JSONText] = []
        var iterator = map.rawIterator()
        var status: Int32 = 0
        do {
            while let (key, value) = try iterator.next() {
                elements.append(element(map, info, decoder, key: key, value: value))
            }
        } catch {
            errorOutput("ebpf: map \(id): \(error)")
            status = 1
        }
        if json {
            output(JSONText.array(elements).rendered)
        } else {
            for element in elements {
                guard case .object(let members) = element else { continue }
                output(members.map { "\($0.0): \($0.1.rendered)" }.joined(separator: "  "))
            }
            output("Found \(elements.count) element\(elements.count == 1 ? "" : "s")")
        }
        return status
    }
}

extension MapType {
    /// Whether keys are 32-bit indexes (arrays and their kinds).
    var hasIndexKeys: Bool {
        self == .array || self == .percpuArray || self == .arrayOfMaps || self == .progArray || self == .perfEventArray
            || self == .cgroupArray
    }
}
