import Testing

@testable import ebpf

@Suite("ebpf command line")
struct ArgumentsTests {
    @Test func splitsOptionsFlagsAndPositionals() throws {
        let arguments = try Arguments(
            ["dump", "--format", "c", "--verbose", "file.o", "--out=x.h", "--", "--literal"],
            valueOptions: ["format", "out"], flagOptions: ["verbose"])
        #expect(arguments.positionals == ["dump", "file.o", "--literal"])
        #expect(arguments.options == ["format": "c", "out": "x.h"])
        #expect(arguments.flags == ["verbose"])
    }

    @Test func rejectsBadOptions() {
        #expect(throws: UsageError.unknownOption("--nope")) { try Arguments(["--nope"]) }
        #expect(throws: UsageError.unknownOption("-x")) { try Arguments(["-x"]) }
        #expect(throws: UsageError.missingValue(option: "--format")) {
            try Arguments(["--format"], valueOptions: ["format"])
        }
        #expect(throws: UsageError.unexpectedValue(option: "--verbose")) {
            try Arguments(["--verbose=yes"], flagOptions: ["verbose"])
        }
    }

    @Test func parsesCommands() throws {
        #expect(try EBPFTool.parse([]) == .help)
        #expect(try EBPFTool.parse(["--help"]) == .help)
        #expect(try EBPFTool.parse(["-h"]) == .help)
        #expect(try EBPFTool.parse(["help"]) == .help)
        #expect(try EBPFTool.parse(["version"]) == .version)
        #expect(throws: UsageError.unknownCommand("frobnicate")) { try EBPFTool.parse(["frobnicate"]) }
        #expect(throws: UsageError.unexpectedArgument("extra")) { try EBPFTool.parse(["version", "extra"]) }
    }

    @Test func versionNamesTheLibraryVersion() {
        var lines: [String] = []
        let status = EBPFTool.run(.version) { lines.append($0) }
        #expect(status == 0)
        #expect(lines == ["ebpf (swift-ebpf) 0.1.0"])
    }

    @Test func helpListsTheCommands() {
        var text = ""
        _ = EBPFTool.run(.help) { text += $0 }
        #expect(text.contains("USAGE: ebpf <command>"))
        #expect(text.contains("version"))
    }
}

@Suite("ebpf inspect")
struct InspectTests {
    static func objectPath(_ name: String) -> String {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        return components.joined(separator: "/") + "/testdata/" + name
    }

    @Test func parsesInspect() throws {
        #expect(try EBPFTool.parse(["inspect", "a.o"]) == .inspect(path: "a.o", json: false))
        #expect(try EBPFTool.parse(["inspect", "--json", "a.o"]) == .inspect(path: "a.o", json: true))
        #expect(throws: UsageError.missingArgument("OBJ")) { try EBPFTool.parse(["inspect"]) }
        #expect(throws: UsageError.unexpectedArgument("b.o")) { try EBPFTool.parse(["inspect", "a.o", "b.o"]) }
    }

    @Test func printsTheJSONShape() {
        var text = ""
        let status = EBPFTool.run(.inspect(path: Self.objectPath("maps_legacy-el.o"), json: true)) { text += $0 }
        #expect(status == 0)
        #expect(
            text == """
                {"programs":[{"name":"count_execve","section":"kprobe/sys_execve","type":"kprobe","attachType":null,"instructions":23}],\
                "maps":[{"name":"execve_counts","type":"array","keySize":4,"valueSize":8,"maxEntries":1,"flags":0},\
                {"name":"pid_seen","type":"hash","keySize":4,"valueSize":1,"maxEntries":128,"flags":0}],"variables":[]}
                """)
    }

    @Test func jsonNamesDataSectionsAndVariables() {
        var text = ""
        _ = EBPFTool.run(.inspect(path: Self.objectPath("globals-eb.o"), json: true)) { text += $0 }
        #expect(text.contains(#"{"name":".rodata","type":"array","keySize":4,"valueSize":12,"maxEntries":1,"flags":1152}"#))
        #expect(text.contains(#"{"name":"target_pid","section":".rodata","offset":0,"size":4,"readOnly":true}"#))
        #expect(text.contains(#""type":"socket_filter""#))
    }

    /// An `__arena` global comes from `.addr_space.1` and lives in the arena map.
    @Test func arenaGlobalsNameTheirSectionAndArena() {
        var json = ""
        _ = EBPFTool.run(.inspect(path: Self.objectPath("arena_globals-el.o"), json: true)) { json += $0 }
        #expect(json.contains(#"{"name":"arena_primes","section":".addr_space.1","offset":8,"size":16,"readOnly":false}"#))
        var text = ""
        _ = EBPFTool.run(.inspect(path: Self.objectPath("arena_globals-el.o"), json: false)) { text += $0 }
        #expect(text.contains("  arena_initial  section=.addr_space.1  offset=0  size=8  arena=arena\n"))
    }

    @Test func reportsBadFiles() {
        var errors: [String] = []
        let status = EBPFTool.run(.inspect(path: "/proc/self/exe", json: false), output: { _ in }, errorOutput: { errors.append($0) })
        #expect(status == 1)
        #expect(errors == ["ebpf: /proc/self/exe: not a BPF object: ELF machine is 62, expected 247 (EM_BPF)"])
    }

    @Test func escapesStrings() {
        #expect(Inspect.string("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }
}
