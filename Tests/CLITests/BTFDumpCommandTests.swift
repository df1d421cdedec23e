import EBPF
import Glibc
import Testing
import TestSupport

@testable import ebpf

@Suite("ebpf btf dump", .checksFileDescriptorLeaks)
struct BTFDumpCommandTests {
    @Test func parsesTheCommand() throws {
        #expect(try EBPFTool.parse(["btf", "dump", "x.o"]) == .btfDump(path: "x.o", format: .raw))
        #expect(try EBPFTool.parse(["btf", "dump", "x.o", "--format", "c"]) == .btfDump(path: "x.o", format: .c))
        #expect(try EBPFTool.parse(["btf", "dump", "--format=raw", "/sys/kernel/btf/vmlinux"])
            == .btfDump(path: "/sys/kernel/btf/vmlinux", format: .raw))
        #expect(throws: UsageError.invalidValue(option: "--format", value: "json")) {
            try EBPFTool.parse(["btf", "dump", "x.o", "--format", "json"])
        }
        #expect(throws: UsageError.missingArgument("FILE")) { try EBPFTool.parse(["btf", "dump"]) }
        #expect(throws: UsageError.unknownCommand("btf load")) { try EBPFTool.parse(["btf", "load", "x"]) }
        #expect(throws: UsageError.unexpectedArgument("y.o")) { try EBPFTool.parse(["btf", "dump", "x.o", "y.o"]) }
    }

    @Test func dumpsAnObjectFileInBothFormats() throws {
        let path = TestData.path("maps_btf-el.o")
        let spec = try KernelBTF.loadELF(path: path)
        var lines: [String] = []
        #expect(EBPFTool.run(.btfDump(path: path, format: .c)) { lines.append($0) } == 0)
        #expect(lines == [String(try spec.cHeader().dropLast())])
        #expect(lines.first?.contains("struct event {\n\t__u32 pid;") == true)
        lines = []
        #expect(EBPFTool.run(.btfDump(path: path, format: .raw)) { lines.append($0) } == 0)
        #expect(lines.first?.hasPrefix("[1] PTR '(anon)' type_id=3\n") == true)
    }

    /// With a byte output (as the executable has) the C header is streamed in chunks and equals
    /// the header made whole; the line output gets nothing.
    @Test func streamsTheCHeaderInChunks() throws {
        let path = TestData.path("maps_btf-el.o")
        let expected = try KernelBTF.loadELF(path: path).cHeaderBytes()
        var lines: [String] = []
        var streamed: [UInt8] = []
        let status = EBPFTool.run(.btfDump(path: path, format: .c), output: { lines.append($0) }, byteOutput: { streamed.append(contentsOf: $0) })
        #expect(status == 0)
        #expect(lines.isEmpty)
        #expect(streamed == expected)
        var errors: [String] = []
        let failed = EBPFTool.run(
            .btfDump(path: "/nonexistent/file.o", format: .c), output: { lines.append($0) },
            errorOutput: { errors.append($0) }, byteOutput: { streamed.append(contentsOf: $0) })
        #expect(failed == 1)
        #expect(errors.count == 1)
    }

    @Test(.enabled(if: PrintingSupport.vmlinuxReadable, "needs /sys/kernel/btf/vmlinux"))
    func streamsKernelBTFInChunksEqualToTheWholeHeader() throws {
        let spec = try BTFSpec(path: "/sys/kernel/btf/vmlinux")
        var streamed: [UInt8] = []
        var chunks = 0
        try spec.writeCHeader { chunk in
            streamed.append(contentsOf: chunk)
            chunks += 1
        }
        #expect(chunks > 10)
        #expect(streamed == (try spec.cHeaderBytes()))
    }

    @Test(.enabled(if: PrintingSupport.vmlinuxReadable, "needs /sys/kernel/btf/vmlinux"))
    func dumpsRawKernelBTF() throws {
        let text = try EBPFTool.dumpBTF(path: "/sys/kernel/btf/vmlinux", format: .c)
        #expect(text.contains("struct task_struct {"))
        #expect(text.hasSuffix("#endif /* __VMLINUX_H__ */\n"))
    }

    @Test func missingFileFails() {
        var lines: [String] = []
        #expect(EBPFTool.run(.btfDump(path: "/nonexistent/file.o", format: .c)) { lines.append($0) } == 1)
        #expect(lines.isEmpty)
    }
}

enum PrintingSupport {
    static var vmlinuxReadable: Bool { access("/sys/kernel/btf/vmlinux", R_OK) == 0 }
}
