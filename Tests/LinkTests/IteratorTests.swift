import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite(
    "iterators", .serialized, .checksFileDescriptorLeaks, .requires(.tracingPrograms),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct IteratorTests {
    /// A `bpf_iter_bpf_map` program that writes one byte, "m", per map.
    static func mapCounter() throws -> Program {
        let instructions = try ProgramBuilder {
            Instruction.load(.r6, from: .r1, offset: 0, size: .doubleWord)  // ctx->meta
            Instruction.load(.r7, from: .r1, offset: 8, size: .doubleWord)  // ctx->map
            Instruction.jumpIf(.r7, .equal, 0, label: "out")
            Instruction.load(.r1, from: .r6, offset: 0, size: .doubleWord)  // meta->seq
            Instruction.store(0x6d, to: .r10, offset: -8, size: .byte)
            Instruction.mov64(.r2, .r10)
            Instruction.add64(.r2, -8)
            Instruction.mov64(.r3, 1)
            Instruction.callHelper(127)  // bpf_seq_write
            Label("out")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
        }.build().encoded(byteOrder: .host)
        var attributes = ProgLoadAttr()
        attributes.progType = ProgramType.tracing.rawValue
        attributes.expectedAttachType = AttachType.traceIter.rawValue
        attributes.attachBTFID = try KernelBTF.functionID(named: "bpf_iter_bpf_map")
        attributes.insnCnt = UInt32(instructions.count / 8)
        let license = Array("GPL".utf8) + [0]
        let loaded = try instructions.withUnsafeBytes { code in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).relinquishDescriptor()
            }
        }
        return try Program(adopting: FileDescriptor(adopting: loaded))
    }

    @Test
    func mapIteratorWritesOneBytePerMap() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let maps = try (0..<3).map { _ in try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1) }
        let iterator = try Iterator(program: try Self.mapCounter())
        let first = try iterator.readAll()
        #expect(first.count >= maps.count)
        #expect(first.allSatisfy { $0 == 0x6d })
        #expect(try iterator.info().type == 4)  // BPF_LINK_TYPE_ITER
        try iterator.close()
        #expect(throws: LinkError.self) { try iterator.open() }
        withExtendedLifetime(maps) {}
    }
}
