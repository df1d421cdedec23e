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
