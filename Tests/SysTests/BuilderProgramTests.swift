import EBPFASM
import Testing
import TestSupport

@testable import EBPFSys

@Suite(
    "A socket filter written with the ASM builder (root)", .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct BuilderProgramTests {
    /// Returns the packet length when the first byte is 0x45 (an IPv4 header), else 0: exercises
    /// context loads, a branch to a label and both exits through the verifier.
    static func ipv4LengthFilter() throws -> [Instruction] {
        try ProgramBuilder {
            Instruction.mov64(.r6, .r1)
            Instruction.load(.r0, from: .r6, offset: 0, size: .word)  // __sk_buff.len
            Instruction.loadAbsolute(offset: 0, size: .byte)  // r0 = first packet byte
            Instruction.jumpIf(.r0, .equal, 0x45, label: "ipv4")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
            Label("ipv4")
            Instruction.load(.r0, from: .r6, offset: 0, size: .word)
            Instruction.exit()
        }.build()
    }

    @Test func runsWithTestRunAndIsFoundByID() throws {
        let bytes = try Self.ipv4LengthFilter().encoded(byteOrder: .host)
        let name = try BPFObjectName("asm_ipv4_len")
        let program = try Sys.loadProgram(type: 1, instructions: bytes, license: "GPL", name: name).takeDescriptor()

        // Test runs of socket filters strip the 14-byte Ethernet header first: the filter sees the
        // packet from byte 14 on, and `len` counts what is left.
        var ipv4 = [UInt8](repeating: 0, count: 64)
        ipv4[14] = 0x45
        #expect(try Sys.testRun(program: program, data: ipv4).returnValue == 50)
        let other = [UInt8](repeating: 0x60, count: 80)
        #expect(try Sys.testRun(program: program, data: other).returnValue == 0)

        let ours = try Sys.objectInfo(of: program, as: ProgInfo.self)
        var id: UInt32 = 0
        var found = false
        while let next = try Sys.nextID(of: .program, after: id) {
            id = next
            guard next == ours.id else { continue }
            let opened = try Sys.openObject(.program, id: next)
            let info = try Sys.objectInfo(of: opened, as: ProgInfo.self)
            #expect(info.name == name)
            #expect(info.tag == ours.tag)
            found = true
        }
        #expect(found, "program id \(ours.id) not among the loaded programs")
    }
}
