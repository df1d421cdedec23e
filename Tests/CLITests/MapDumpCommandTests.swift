import EBPF
import Foundation
import Glibc
import Testing
import TestSupport

@testable import ebpf

/// `value` with hexadecimal strings ("0x1f") turned into numbers, recursively.
private func numbersForHex(_ value: [String: Any]) -> [String: Any] {
    func convert(_ value: Any) -> Any {
        if let text = value as? String, text.hasPrefix("0x"), let number = Int(text.dropFirst(2), radix: 16) { return number }
        if let object = value as? [String: Any] { return numbersForHex(object) }
        if let array = value as? [Any] { return array.map(convert) }
        return value
    }
    return value.mapValues(convert)
}

/// A fresh directory in the cgroup v2 hierarchy (`/sys/fs/cgroup/unified` on hybrid hosts).
func scratchCgroup(_ name: String) -> String? {
    guard let mounts = readFile("/proc/self/mountinfo") else { return nil }
    for line in String(decoding: mounts, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: " ")
        if let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count, fields[separator + 1] == "cgroup2",
            fields.count > 4
        {
            let path = String(fields[4]) + "/" + name
            return mkdir(path, 0o755) == 0 || errno == EEXIST ? path : nil
        }
    }
    return nil
}

private func bytes<T>(of value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

@Suite(
    "ebpf map dump and link list", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to open maps and links by ID"))
struct MapDumpCommandTests {
    /// `struct flow_key` and `struct flow_value` of testdata/introspect.c, laid out by hand.
    static func flowKey(address: UInt32, port: UInt16, protocolNumber: UInt16) -> [UInt8] {
        bytes(of: address) + bytes(of: port) + bytes(of: protocolNumber)
    }

    static func flowValue(state: UInt32, label: String, packets: UInt64, bytes count: UInt64, priority: UInt32, marked: UInt32, delta: Int32)
        -> [UInt8]
    {
        var label = Array(label.utf8.prefix(8))
        label += [UInt8](repeating: 0, count: 8 - label.count)
        return bytes(of: state) + label + [0, 0, 0, 0] + bytes(of: packets) + bytes(of: count)
            + bytes(of: priority | marked << 4) + bytes(of: delta)
    }

    @Test func dumpsAHashOfStructsAPerCPUArrayAndAMapOfMaps() throws {
        let collection = try LoadedCollection(spec: CollectionSpec(elfFile: TestData.path("introspect-el.o")))
        defer { collection.close() }
        let flows = try collection.map("flows")
        #expect(flows.valueSize == 40)
        try flows.update(
            keyBytes: Self.flowKey(address: 0x0a00_0001, port: 80, protocolNumber: 6),
            valueBytes: Self.flowValue(state: 2, label: "web", packets: 5, bytes: 1500, priority: 9, marked: 1, delta: -3))
        try flows.update(
            keyBytes: Self.flowKey(address: 0x0a00_0002, port: 443, protocolNumber: 17),
            valueBytes: Self.flowValue(state: 5, label: "exactly8", packets: 0, bytes: 0, priority: 15, marked: 0, delta: 2))

        let dump = try runEBPF(["map", "dump", "id", String(try flows.info().id), "--json"])
        #expect(dump.status == 0)
        let elements = try #require(try parseJSON(dump.output) as? [[String: Any]])
        let byAddress = Dictionary(
            elements.compactMap { element -> (Int, [String: Any])? in
                guard let key = element["key"] as? [String: Any], let address = key["address"] as? Int else { return nil }
                return (address, element)
            }, uniquingKeysWith: { first, _ in first })
        #expect(byAddress.count == 2)
        let web = try #require(byAddress[0x0a00_0001])
        #expect(NSDictionary(dictionary: web["key"] as? [String: Any] ?? [:]) == ["address": 0x0a00_0001, "port": 80, "protocol": 6])
        let value = try #require(web["value"] as? [String: Any])
        #expect(value["state"] as? String == "FLOW_OPEN")
        #expect(value["label"] as? String == "web")
        #expect(NSDictionary(dictionary: value["counters"] as? [String: Any] ?? [:]) == ["packets": 5, "bytes": 1500])
        #expect(value["priority"] as? Int == 9)
        #expect(value["marked"] as? Int == 1)
        #expect(value["delta"] as? Int == -3)
        let other = try #require(byAddress[0x0a00_0002]?["value"] as? [String: Any])
        #expect(other["state"] as? Int == 5, "a value without enumerator prints as its number")
        // Eight characters and no NUL: not a C string, so the bytes, as bpftool prints them.
        #expect(other["label"] as? [Int] == Array("exactly8".utf8).map(Int.init))
        #expect(other["priority"] as? Int == 15)

        // Per-CPU: one value per possible CPU.
        let hits = try collection.map("cpu_hits")
        let copies = hits.valueCopies
        let perCPU = (0..<copies).flatMap { bytes(of: UInt64(100 + $0)) }
        try hits.update(keyBytes: bytes(of: UInt32(1)), valueBytes: perCPU)
        let hitDump = try #require(
            try parseJSON(try runEBPF(["map", "dump", String(try hits.info().id), "--json"]).output) as? [[String: Any]])
        #expect(hitDump.count == 2)
        let second = try #require(hitDump.first { $0["key"] as? Int == 1 })
        let values = try #require(second["values"] as? [[String: Any]])
        #expect(values.map { $0["cpu"] as? Int } == (0..<copies).map { $0 })
        #expect(values.map { $0["value"] as? Int } == (0..<copies).map { 100 + $0 })

        // Map of maps: the inner maps' IDs; the empty slot is left out.
        let tables = try collection.map("tables")
        let tableDump = try #require(
            try parseJSON(try runEBPF(["map", "dump", String(try tables.info().id), "--json"]).output) as? [[String: Any]])
        let first = try collection.map("inner_first").info().id
        let second2 = try collection.map("inner_second").info().id
        #expect(tableDump.map { $0["key"] as? Int } == [0, 2])
        #expect(tableDump.map { $0["inner_map_id"] as? Int } == [Int(first), Int(second2)])

        // The text form prints one line per element and a count.
        let text = try runEBPF(["map", "dump", String(try flows.info().id)]).output
        #expect(text.contains(#""label":"web""#))
        #expect(text.hasSuffix("Found 2 elements"))

        // bpftool formats the same BTF the same way.
        if let bpftoolPath = bpftool {
            for map in [flows, hits] {
                let result = try runSubprocess(bpftoolPath, ["-j", "map", "dump", "id", String(try map.info().id)])
                let theirs = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [[String: Any]])
                let ours = try #require(
                    try parseJSON(try runEBPF(["map", "dump", String(try map.info().id), "--json"]).output) as? [[String: Any]])
                // bpftool prints bitfields as hexadecimal strings ("0x9"); ebpf as numbers.
                let formatted = theirs.compactMap { $0["formatted"] as? [String: Any] }.map { NSDictionary(dictionary: numbersForHex($0)) }
                #expect(formatted.count == ours.count)
                #expect(Set(formatted) == Set(ours.map { NSDictionary(dictionary: $0) }), "map \(map.name)")
            }
        }
    }

    @Test func aMapWithoutBTFDumpsBytes() throws {
        let map = try Map(spec: MapSpec(name: "i19_raw", type: .hash, keySize: 2, valueSize: 3, maxEntries: 2))
        defer { try? map.close() }
        try map.update(keyBytes: [1, 2], valueBytes: [0xa, 0xb, 0xc])
        let dump = try #require(try parseJSON(try runEBPF(["map", "dump", String(try map.info().id), "--json"]).output) as? [[String: Any]])
        #expect(dump.count == 1)
        #expect(dump.first?["key"] as? [String] == ["0x01", "0x02"])
        #expect(dump.first?["value"] as? [String] == ["0x0a", "0x0b", "0x0c"])
    }

    @Test(.enabled(if: bpftool != nil, "needs bpftool (apt package bpftool)"))
    func linkListAgreesWithBpftool() throws {
        if access("/sys/kernel/tracing/events", F_OK) != 0 {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
        let rawSpec = ProgramSpec(name: "i19_raw_tp", type: .rawTracepoint, instructions: [.mov64(.r0, 0), .exit()])
        let tracepointSpec = ProgramSpec(name: "i19_tp", type: .tracepoint, instructions: [.mov64(.r0, 0), .exit()])
        let cgroupSpec = ProgramSpec(
            name: "i19_cgroup", type: .cgroupSKB, attachType: .cgroupINetEgress, instructions: [.mov64(.r0, 1), .exit()])
        let raw = try Program(spec: rawSpec)
        let tracepoint = try Program(spec: tracepointSpec)
        let cgroupProgram = try Program(spec: cgroupSpec)
        defer {
            try? raw.close()
            try? tracepoint.close()
            try? cgroupProgram.close()
        }
        let path = try #require(scratchCgroup("swiftebpf_issue19_links_\(getpid())"), "a cgroup v2 directory")
        defer { rmdir(path) }
        let links: [any Link] = [
            try RawTracepoint.attach(name: "sys_enter", program: raw),
            try Tracepoint(group: "syscalls", name: "sys_enter_getppid", program: tracepoint),
            try Cgroup.attach(path: path, attachType: .cgroupINetEgress, program: cgroupProgram),
        ]
        defer { for link in links { try? link.close() } }
        let ids = try links.map { Int(try $0.info().id) }

        let ours = try byID(parseJSON(try runEBPF(["link", "list", "--json"]).output))
        let theirs = try byID(bpftoolJSON(["link", "list"]))
        for id in ids {
            let mine = try #require(ours[id], "link \(id) in ebpf link list")
            let bpftools = try #require(theirs[id], "link \(id) in bpftool link list")
            expectAgreement(ours: mine, theirs: bpftools, what: "link \(id)")
            #expect(mine["prog_id"] as? Int == bpftools["prog_id"] as? Int)
        }
        #expect(ours[ids[0]]?["tp_name"] as? String == "sys_enter")
        #expect(ours[ids[1]]?["tp_name"] as? String == "sys_enter_getppid")
        #expect(ours[ids[2]]?["attach_type"] as? String == "cgroup_inet_egress")

        // btf list: vmlinux is there, as in bpftool.
        let btf = try byID(parseJSON(try runEBPF(["btf", "list", "--json"]).output))
        let vmlinux = try #require(btf.values.first { $0["name"] as? String == "vmlinux" })
        let theirBTF = try byID(bpftoolJSON(["btf", "list"]))
        let id = try #require(vmlinux["id"] as? Int)
        expectAgreement(ours: vmlinux, theirs: try #require(theirBTF[id]), what: "BTF \(id)")
    }
}
