import EBPF
import Glibc

/// `ebpf link list|show`, `ebpf btf list` and `ebpf pin list`.
enum LinkVerbs {
    /// The fields of a link, named as bpftool names them (its newer versions for the link types
    /// bpftool 7.1 does not decode).
    static func fields(_ link: LinkDescription) -> [(String, JSONText)] {
        var fields: [(String, JSONText)] = [
            ("id", .int(link.id)), ("type", .string(link.type.shortName)), ("prog_id", .int(link.programID)),
        ]
        func attachType(_ type: AttachType) { fields.append(("attach_type", .string(type.shortName))) }
        func interface(_ ifindex: UInt32) {
            var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
            if if_indextoname(ifindex, &name) != nil {
                fields.append(("devname", .string(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))))
            }
            fields.append(("ifindex", .int(ifindex)))
        }
        func cookie(_ value: UInt64) { if value != 0 { fields.append(("cookie", .int(value))) } }
        switch link.details {
        case .rawTracepoint(let name, let value):
            fields.append(("tp_name", .string(name)))
            cookie(value)
        case .tracing(let type, let objectID, let btfID, let value):
            attachType(type)
            fields.append(("target_obj_id", .int(objectID)))
            fields.append(("target_btf_id", .int(btfID)))
            cookie(value)
        case .cgroup(let cgroupID, let type):
            fields.append(("cgroup_id", .int(cgroupID)))
            attachType(type)
        case .iterator(let target, let mapID, let cgroupID, let order):
            fields.append(("target_name", .string(target)))
            if mapID != 0 { fields.append(("map_id", .int(mapID))) }
            if cgroupID != 0 {
                fields.append(("cgroup_id", .int(cgroupID)))
                fields.append(("order", .int(order)))
            }
        case .netns(let inode, let type):
            fields.append(("netns_ino", .int(inode)))
            attachType(type)
        case .xdp(let ifindex):
            interface(ifindex)
        case .perfEvent(let event):
            perfEventFields(event, into: &fields)
        case .kprobeMulti(let multi):
            fields.append(("retprobe", .bool(multi.isReturnProbe)))
            fields.append(("func_cnt", .int(multi.addresses.count)))
            fields.append(("missed", .int(multi.missed)))
            let symbols = KernelSymbols.names(of: multi.addresses)
            let functions = multi.addresses.enumerated().map { index, address -> JSONText in
                var function: [(String, JSONText)] = [("addr", .int(address))]
                if let name = symbols[address] { function.append(("func", .string(name))) }
                if index < multi.cookies.count { function.append(("cookie", .int(multi.cookies[index]))) }
                return .object(function)
            }
            fields.append(("funcs", .array(functions)))
        case .structOps(let mapID):
            fields.append(("map_id", .int(mapID)))
        case .netfilter(let family, let hook, let priority, let flags):
            fields.append(("pf", .int(family)))
            fields.append(("hook", .int(hook)))
            fields.append(("prio", .int(priority)))
            fields.append(("flags", .int(flags)))
        case .tcx(let ifindex, let type), .netkit(let ifindex, let type):
            interface(ifindex)
            attachType(type)
        case .uprobeMulti(let multi):
            fields.append(("path", .string(multi.path)))
            fields.append(("func_cnt", .int(multi.offsets.count)))
            fields.append(("pid", .int(multi.pid)))
            fields.append(("retprobe", .bool(multi.isReturnProbe)))
            let functions = multi.offsets.enumerated().map { index, offset -> JSONText in
                var function: [(String, JSONText)] = [("offset", .int(offset))]
                if index < multi.referenceCounterOffsets.count {
                    function.append(("ref_ctr_offset", .int(multi.referenceCounterOffsets[index])))
                }
                if index < multi.cookies.count { function.append(("cookie", .int(multi.cookies[index]))) }
                return .object(function)
            }
            fields.append(("funcs", .array(functions)))
        case .sockmap(let mapID, let type):
            fields.append(("map_id", .int(mapID)))
            attachType(type)
        case .other(let bytes):
            fields.append(("info", .string(ObjectCommand.hex(bytes, separator: ""))))
        }
        return fields
    }

    static func perfEventFields(_ event: PerfEventLinkDetails, into fields: inout [(String, JSONText)]) {
        switch event.kind {
        case .uprobe, .uretprobe:
            fields.append(("event_type", .string(event.kind == .uprobe ? "uprobe" : "uretprobe")))
            fields.append(("file", .string(event.name)))
            fields.append(("offset", .int(event.offset)))
        case .kprobe, .kretprobe:
            fields.append(("event_type", .string(event.kind == .kprobe ? "kprobe" : "kretprobe")))
            fields.append(("func", .string(event.name)))
            fields.append(("offset", .int(event.offset)))
            fields.append(("addr", .int(event.address)))
            fields.append(("missed", .int(event.missed)))
        case .tracepoint:
            fields.append(("event_type", .string("tracepoint")))
            fields.append(("tp_name", .string(event.name)))
        case .event:
            fields.append(("event_type", .string("event")))
            fields.append(("event_config_type", .int(event.eventType)))
            fields.append(("event_config", .int(event.eventConfig)))
        case .unspecified, nil:
            fields.append(("event_type", .int(event.rawKind)))
        }
        if event.cookie != 0 { fields.append(("cookie", .int(event.cookie))) }
    }

    static func text(_ fields: [(String, JSONText)]) -> String {
        var parts: [String] = []
        for (index, (key, value)) in fields.enumerated() {
            let plain: String
            if case .string(let text) = value { plain = text } else { plain = value.rendered }
            switch index {
            case 0: parts.append(plain + ":")
            case 1: parts.append(plain)
            default: parts.append("\(key) \(plain)")
            }
        }
        return parts.joined(separator: "  ")
    }

    static func list(id: UInt32?, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        ObjectCommand.list(.link, noun: "link", id: id, json: json, text: text, output: output, errorOutput: errorOutput) { id in
            do throws(BPFSyscallError) {
                return .fields(fields(try LinkDescription(id: id)))
            } catch {
                return error.errno == .noSuchFileOrDirectory ? .vanished("\(error)") : .failed("\(error)")
            }
        }
    }

    // MARK: - btf list

    /// `[{"id","size","prog_ids","map_ids","kernel","name"}]`, like `bpftool btf list -j`.
    static func listBTF(json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        let objects: [LoadedBTFObject]
        do {
            objects = try KernelBTF.loadedObjects()
        } catch {
            errorOutput("ebpf: cannot list BTF objects: \(error)")
            return 1
        }
        // Which programs and maps use each BTF object, as bpftool shows it.
        var programs: [UInt32: [UInt32]] = [:]
        var maps: [UInt32: [UInt32]] = [:]
        _ = ObjectCommand.walk(.program, errorOutput: errorOutput) { id in
            guard let program = try? Program(id: id) else { return }
            defer { try? program.close() }
            if let info = try? program.info(), info.btfID > 0 { programs[info.btfID, default: []].append(id) }
        }
        _ = ObjectCommand.walk(.map, errorOutput: errorOutput) { id in
            guard let map = try? Map(id: id) else { return }
            defer { try? map.close() }
            if let info = try? map.info(), info.btfID > 0 { maps[info.btfID, default: []].append(id) }
        }
        var entries: [JSONText] = []
        var lines: [String] = []
        for object in objects {
            var members: [(String, JSONText)] = [
                ("id", .int(object.id)), ("size", .int(object.size)),
                ("prog_ids", .array((programs[object.id] ?? []).map { .int($0) })),
                ("map_ids", .array((maps[object.id] ?? []).map { .int($0) })), ("kernel", .bool(object.isKernel)),
            ]
            if !object.name.isEmpty { members.append(("name", .string(object.name))) }
            entries.append(.object(members))
            var line = "\(object.id): name \(object.name.isEmpty ? "<anon>" : object.name)  size \(object.size)B"
            if let ids = programs[object.id] { line += "  prog_ids " + ids.map(String.init).joined(separator: ",") }
            if let ids = maps[object.id] { line += "  map_ids " + ids.map(String.init).joined(separator: ",") }
            lines.append(line)
        }
        output(json ? JSONText.array(entries).rendered : lines.joined(separator: "\n"))
        return 0
    }

    // MARK: - pin list

    static func listPins(directory: String, json: Bool, output: (String) -> Void, errorOutput: (String) -> Void) -> Int32 {
        let entries: [PinnedObject.Entry]
        do {
            entries = try PinnedObject.walk(directory: directory)
        } catch {
            errorOutput("ebpf: \(error)")
            return 1
        }
        var objects: [JSONText] = []
        var lines: [String] = []
        for entry in entries {
            let kind = entry.kind.map { "\($0)" }
            var members: [(String, JSONText)] = [("path", .string(entry.path)), ("kind", kind.map { .string($0) } ?? .null)]
            if let id = entry.id { members.append(("id", .int(id))) }
            if let problem = entry.problem {
                members.append(("error", .string(problem)))
                errorOutput("ebpf: \(entry.path): \(problem)")
            }
            objects.append(.object(members))
            lines.append("\(entry.path): \(kind ?? "?")" + (entry.id.map { " id \($0)" } ?? ""))
        }
        if json {
            output(JSONText.array(objects).rendered)
        } else if !lines.isEmpty {
            output(lines.joined(separator: "\n"))
        }
        return 0
    }
}

/// Names of kernel addresses from /proc/kallsyms (readable addresses need CAP_SYSLOG).
enum KernelSymbols {
    static func names(of addresses: [UInt64]) -> [UInt64: String] {
        let wanted = Set(addresses.filter { $0 != 0 })
        guard !wanted.isEmpty, let handle = fopen("/proc/kallsyms", "r") else { return [:] }
        defer { fclose(handle) }
        var names: [UInt64: String] = [:]
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), handle) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let words = text.split(separator: " ", maxSplits: 3)
            guard words.count >= 3, let address = UInt64(words[0], radix: 16), wanted.contains(address) else { continue }
            let name = words[2].split(whereSeparator: { $0 == "\n" || $0 == "\t" }).first.map(String.init) ?? ""
            if names[address] == nil { names[address] = name }
        }
        return names
    }
}
