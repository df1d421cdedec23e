import EBPF
import Foundation
import Glibc
import Testing
import TestSupport

@testable import ebpf

/// Where bpftool is installed (Debian's `bpftool` package), nil when it is not.
let bpftool: String? = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"].first { access($0, X_OK) == 0 }

/// Runs bpftool and parses its JSON output.
func bpftoolJSON(_ arguments: [String]) throws -> Any {
    let path = try #require(bpftool)
    let result = try runSubprocess(path, ["-j"] + arguments)
    try #require(result.status == 0, "bpftool \(arguments.joined(separator: " ")) exited with \(result.status)")
    return try JSONSerialization.jsonObject(with: Data(result.standardOutput))
}

/// Runs an `ebpf` command in-process; returns its standard output and exit status.
func runEBPF(_ words: [String]) throws -> (output: String, status: Int32, errors: String) {
    let command = try EBPFTool.parse(words)
    var lines: [String] = []
    var errors: [String] = []
    let status = EBPFTool.run(command, output: { lines.append($0) }, errorOutput: { errors.append($0) })
    return (lines.joined(separator: "\n"), status, errors.joined(separator: "\n"))
}

func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// The objects of a JSON array keyed by their "id".
func byID(_ value: Any) throws -> [Int: [String: Any]] {
    let array = try #require(value as? [[String: Any]])
    var result: [Int: [String: Any]] = [:]
    for object in array {
        if let id = object["id"] as? Int { result[id] = object }
    }
    return result
}

/// Compares every field both print; `loaded_at` may differ by the second that passed between the
/// two runs, run statistics by runs in between (another test may have statistics on).
func expectAgreement(
    ours: [String: Any], theirs: [String: Any], what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let common = Set(ours.keys).intersection(theirs.keys)
    for key in ["id", "type", "name", "tag"] where theirs[key] != nil {
        #expect(ours[key] != nil, "\(what): bpftool prints \(key), ebpf does not", sourceLocation: sourceLocation)
    }
    for key in common.sorted() {
        switch key {
        case "run_time_ns", "run_cnt", "recursion_misses", "pids":
            continue
        case "loaded_at":
            let a = (ours[key] as? Int) ?? 0, b = (theirs[key] as? Int) ?? 0
            #expect(abs(a - b) <= 2, "\(what): loaded_at \(a) vs \(b)", sourceLocation: sourceLocation)
        default:
            let a = ours[key].map { String(describing: $0) }, b = theirs[key].map { String(describing: $0) }
            // bpftool 7.1 prints the number of a type its libbpf does not name.
            if key == "type" || key == "attach_type", theirs[key] is Int { continue }
            #expect(a == b, "\(what): \(key) is \(a ?? "nil") in ebpf, \(b ?? "nil") in bpftool", sourceLocation: sourceLocation)
        }
    }
}

@Suite("ebpf prog|map|link|btf", .serialized, .checksFileDescriptorLeaks)
struct IntrospectionCommandTests {
    @Test func parsesTheVerbs() throws {
        #expect(try EBPFTool.parse(["prog", "list"]) == .objects(.programList(id: nil, json: false)))
        #expect(try EBPFTool.parse(["prog", "show", "id", "7", "--json"]) == .objects(.programList(id: 7, json: true)))
        #expect(try EBPFTool.parse(["prog", "show", "7"]) == .objects(.programList(id: 7, json: false)))
        #expect(
            try EBPFTool.parse(["prog", "dump", "xlated", "id", "3", "--source"])
                == .objects(.programDumpTranslated(id: 3, source: true, json: false)))
        #expect(try EBPFTool.parse(["prog", "dump", "jited", "3", "--json"]) == .objects(.programDumpJITed(id: 3, json: true)))
        #expect(try EBPFTool.parse(["map", "dump", "id", "9"]) == .objects(.mapDump(id: 9, json: false)))
        #expect(try EBPFTool.parse(["link", "list", "--json"]) == .objects(.linkList(id: nil, json: true)))
        #expect(try EBPFTool.parse(["btf", "list"]) == .objects(.btfList(json: false)))
        #expect(try EBPFTool.parse(["pin", "list", "/sys/fs/bpf"]) == .objects(.pinList(directory: "/sys/fs/bpf", json: false)))
        #expect(try EBPFTool.parse(["btf", "dump", "x.btf"]) == .btfDump(path: "x.btf", format: .raw))
        #expect(throws: UsageError.invalidValue(option: "id", value: "x")) { try EBPFTool.parse(["prog", "show", "x"]) }
        #expect(throws: UsageError.missingArgument("ID")) { try EBPFTool.parse(["map", "dump"]) }
        #expect(throws: UsageError.unknownOption("--source")) { try EBPFTool.parse(["prog", "list", "--source"]) }
        #expect(throws: UsageError.unknownCommand("prog dump raw")) { try EBPFTool.parse(["prog", "dump", "raw", "1"]) }
        #expect(throws: UsageError.unexpectedArgument("2")) { try EBPFTool.parse(["link", "show", "1", "2"]) }
        #expect(throws: UsageError.unknownCommand("map frob")) { try EBPFTool.parse(["map", "frob"]) }
    }

    @Test(.enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to open objects by ID"))
    func missingIDsAreErrorsAndVanishedOnesAreSkipped() throws {
        // IDs near the top of the range are not in use.
        let missing = try runEBPF(["prog", "show", "id", "4294967000", "--json"])
        #expect(missing.status == 1)
        #expect(missing.errors.contains("program 4294967000"))
        #expect(try runEBPF(["map", "dump", "4294967000"]).status == 1)
        #expect(try runEBPF(["link", "show", "4294967000"]).status == 1)

        // A program unloaded between listing and opening: the walk opens each ID after listing
        // it, so closing one right after it was created and listing again must not fail.
        let collection = try LoadedCollection(spec: CollectionSpec(elfFile: TestData.path("introspect-el.o")))
        let id = try collection.program("introspect_flow_counter").info().id
        collection.close()
        let listing = try runEBPF(["prog", "list", "--json"])
        #expect(listing.status == 0)
        #expect(try byID(parseJSON(listing.output))[Int(id)] == nil)
    }

    @Test(
        .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to open objects by ID"),
        .enabled(if: bpftool != nil, "needs bpftool (apt package bpftool)"))
    func listsAgreeWithBpftool() throws {
        let collection = try LoadedCollection(spec: CollectionSpec(elfFile: TestData.path("introspect-el.o")))
        defer { collection.close() }
        let programIDs = try collection.programs.values.map { Int(try $0.info().id) }
        let mapIDs = try collection.maps.values.map { Int(try $0.info().id) }

        let ours = try byID(parseJSON(try runEBPF(["prog", "list", "--json"]).output))
        let theirs = try byID(bpftoolJSON(["prog", "list"]))
        for id in programIDs {
            let mine = try #require(ours[id], "program \(id) in ebpf prog list")
            let bpftools = try #require(theirs[id], "program \(id) in bpftool prog list")
            expectAgreement(ours: mine, theirs: bpftools, what: "program \(id)")
            // Both complete the 15-byte kernel name from BTF.
            #expect(mine["name"] as? String == "introspect_flow_counter")
        }
        let ourMaps = try byID(parseJSON(try runEBPF(["map", "list", "--json"]).output))
        let theirMaps = try byID(bpftoolJSON(["map", "list"]))
        for id in mapIDs {
            let mine = try #require(ourMaps[id], "map \(id) in ebpf map list")
            let bpftools = try #require(theirMaps[id], "map \(id) in bpftool map list")
            expectAgreement(ours: mine, theirs: bpftools, what: "map \(id)")
        }
        // show with an ID prints the one object.
        let one = try #require(try parseJSON(try runEBPF(["map", "show", "id", String(mapIDs[0]), "--json"]).output) as? [String: Any])
        #expect(one["id"] as? Int == mapIDs[0])
    }

    @Test(
        .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to read translated instructions"),
        .enabled(if: bpftool != nil, "needs bpftool (apt package bpftool)"))
    func translatedDumpMatchesBpftool() throws {
        let collection = try LoadedCollection(spec: CollectionSpec(elfFile: TestData.path("introspect-el.o")))
        defer { collection.close() }
        let id = try collection.program("introspect_flow_counter").info().id
        let ours = try runEBPF(["prog", "dump", "xlated", "id", String(id), "--source"])
        #expect(ours.status == 0)
        let bpftoolPath = try #require(bpftool)
        let theirs = try runSubprocess(bpftoolPath, ["prog", "dump", "xlated", "id", String(id)])
        #expect(theirs.status == 0)

        // Instructions: "  12: (bf) r1 = r6" in both; operands are spelled differently.
        func instructions(_ text: String) -> [String] {
            text.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.drop { $0 == " " }
                guard let colon = trimmed.firstIndex(of: ":"), Int(trimmed[..<colon]) != nil else { return nil }
                let rest = trimmed[trimmed.index(after: colon)...].drop { $0 == " " }
                guard rest.hasPrefix("("), rest.count >= 4 else { return nil }
                return trimmed[..<colon] + ":" + rest.prefix(4)
            }
        }
        // Source lines: "; text" (ours adds " [file:line:column]").
        func sourceLines(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("; ") }.map { line in
                var text = String(line.dropFirst(2))
                if let bracket = text.range(of: " [", options: .backwards), text.hasSuffix("]") {
                    text = String(text[..<bracket.lowerBound])
                }
                return text.trimmingCharacters(in: .whitespaces)
            }
        }
        let ourInstructions = instructions(ours.output)
        #expect(ourInstructions.count > 10)
        #expect(ourInstructions == instructions(theirs.text))
        let ourLines = sourceLines(ours.output)
        #expect(ourLines.contains("struct flow_value *value = bpf_map_lookup_elem(&flows, &key);"))
        #expect(ourLines == sourceLines(theirs.text))
        #expect(ours.output.contains("introspect_flow_counter:"))
        #expect(ours.output.contains("count_hit:"))
        #expect(ours.output.contains("introspect.c:73:"))

        // JSON: one object per instruction, with the same opcodes.
        let json = try #require(try parseJSON(try runEBPF(["prog", "dump", "xlated", String(id), "--json"]).output) as? [[String: Any]])
        #expect(json.count == ourInstructions.count)
        #expect(json.first?["function"] as? String == "introspect_flow_counter")

        // The JIT image: one function per func info record, its bytes as long as bpftool says.
        let jited = try #require(try parseJSON(try runEBPF(["prog", "dump", "jited", String(id), "--json"]).output) as? [[String: Any]])
        #expect(jited.map { $0["name"] as? String } == ["introspect_flow_counter", "count_hit"])
        let jitedBytes = jited.compactMap { ($0["bytes"] as? String)?.count }.reduce(0, +) / 2
        let listed = try #require(try bpftoolJSON(["prog", "show", "id", String(id)]) as? [String: Any])
        #expect(listed["bytes_jited"] as? Int == jitedBytes)
    }
}
