import EBPF
import Glibc
import Testing
import TestSupport

@testable import ebpf

@Suite("ebpf load", .checksFileDescriptorLeaks)
struct LoadCommandTests {
    @Test func parsesTheCommand() throws {
        #expect(try EBPFTool.parse(["load", "x.o"]) == .load(path: "x.o", json: false))
        #expect(try EBPFTool.parse(["load", "--json", "x.o"]) == .load(path: "x.o", json: true))
        #expect(throws: UsageError.missingArgument("OBJ")) { try EBPFTool.parse(["load"]) }
        #expect(throws: UsageError.unknownOption("--format")) { try EBPFTool.parse(["load", "x.o", "--format", "c"]) }
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func reportsEachProgramAsJSON() throws {
        var lines: [String] = []
        #expect(EBPFTool.run(.load(path: TestData.path("subprog-el.o"), json: true)) { lines.append($0) } == 0)
        #expect(lines == [#"{"calls_loop":0,"calls_subprograms":0}"#])
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func showsTheVerifierLogOfAFailure() throws {
        var lines: [String] = []
        #expect(EBPFTool.run(.load(path: TestData.path("isa_v3-el.o"), json: false)) { lines.append($0) } == 1)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("isa_atomic: failed (-13)"))
        #expect(text.contains("R0 !read_ok"))
        #expect(text.contains("verifier log (last"))

        lines = []
        #expect(EBPFTool.run(.load(path: TestData.path("isa_v3-el.o"), json: true)) { lines.append($0) } == 1)
        #expect(lines.first?.contains(#""isa_atomic":-13"#) == true)
    }
}
