import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A BTF blob describing one global function `int entry(struct __sk_buff *ctx)`: [1] `int`,
/// [2] `struct __sk_buff`, [3] a pointer to it, [4] the prototype, [5] the function. Both the
/// target program and its replacement carry it as their func info. The context argument matters:
/// since Linux 6.8 the verifier marks a main program's BTF unreliable unless its one argument is
/// the context, and an unreliable target refuses extensions ("Cannot replace static functions");
/// 6.1 accepted `int entry(void)`.
func entryFunctionBTF() -> [UInt8] {
    var types: [UInt32] = []
    types += [1, 1 << 24, 4, 0x0100_0020]  // [1] INT "int", 4 bytes, signed, 32 bits
    types += [11, 4 << 24, 4]  // [2] STRUCT "__sk_buff", 4 bytes, no members
    types += [0, 2 << 24, 2]  // [3] PTR to [2]
    types += [0, 13 << 24 | 1, 1, 21, 3]  // [4] FUNC_PROTO returning [1], one parameter "ctx" of [3]
    types += [5, 12 << 24 | 1, 4]  // [5] FUNC "entry" (global linkage) of type [4]
    let strings = Array("\0int\0entry\0__sk_buff\0ctx\0".utf8)
    let typeBytes = types.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    var blob: [UInt8] = [0x9f, 0xeb, 1, 0]
    for value in [UInt32(24), 0, UInt32(typeBytes.count), UInt32(typeBytes.count), UInt32(strings.count)] {
        blob += (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
    return blob + typeBytes + strings
}

/// Loads `r0 = returnValue; exit` as `type` with func info naming BTF function 5, optionally as an
/// extension of `target`.
private func loadWithFuncInfo(
    type: ProgramType, returnValue: Int32, btf: borrowing FileDescriptor, replacing target: Program? = nil
) throws -> Program {
    let instructions = try [Instruction.mov64(.r0, returnValue), .exit()].encoded(byteOrder: .host)
    var attributes = ProgLoadAttr()
    attributes.progType = type.rawValue
    attributes.insnCnt = 2
    attributes.progBTFFD = UInt32(bitPattern: btf.rawValue)
    attributes.funcInfoRecSize = 8
    attributes.funcInfoCnt = 1
    if let target {
        attributes.attachProgFD = UInt32(bitPattern: target.fileDescriptorValue)
        attributes.attachBTFID = 5
    }
    let funcInfo: [UInt32] = [0, 5]  // instruction 0 is function [5]
    let license = Array("GPL".utf8) + [0]
    let loaded = try instructions.withUnsafeBytes { code in
        try funcInfo.withUnsafeBytes { info in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.funcInfo = Sys.address(of: info.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).relinquishDescriptor()
            }
        }
    }
    return try Program(adopting: FileDescriptor(adopting: loaded))
}

@Suite(
    "freplace (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.tracingPrograms),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct FreplaceTests {
    @Test func extensionReplacesTheTargetUntilClosed() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let btf = try Sys.loadBTF(entryFunctionBTF())
        let target = try loadWithFuncInfo(type: .socketFilter, returnValue: 1, btf: btf)
        let replacement = try loadWithFuncInfo(type: .ext, returnValue: 7, btf: btf, replacing: target)
        let packet = [UInt8](repeating: 0, count: 64)
        #expect(try target.testRun(data: packet).returnValue == 1)
        let link = try Tracing.attach(program: replacement)
        #expect(try target.testRun(data: packet).returnValue == 7, "the extension runs in the target's place")
        #expect(try link.info().type == 2)  // BPF_LINK_TYPE_TRACING
        try link.close()
        #expect(try target.testRun(data: packet).returnValue == 1)
    }
}
