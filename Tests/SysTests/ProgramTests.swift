import Testing
import TestSupport

@testable import EBPFSys

private let socketFilterType: UInt32 = 1  // BPF_PROG_TYPE_SOCKET_FILTER

@Suite("Programs (root)", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct ProgramTests {
    @Test func loadAndRunSocketFilter() throws {
        let loaded = try Sys.loadProgram(
            type: socketFilterType, instructions: returnImmediateProgram(42), license: "GPL",
            name: BPFObjectName("sys_ret42"))
        let program = loaded.takeDescriptor()
        let run = try Sys.testRun(program: program, data: [UInt8](repeating: 0, count: 64))
        #expect(run.returnValue == 42)

        let info = try Sys.objectInfo(of: program, as: ProgInfo.self)
        #expect(info.type == socketFilterType)
        #expect(info.name.string == "sys_ret42")
        #expect(info.isGPLCompatible)
        #expect(info.xlatedProgLen == 16)
    }

    @Test func requestedLogIsReturnedOnSuccess() throws {
        let loaded = try Sys.loadProgram(
            type: socketFilterType, instructions: returnImmediateProgram(1), license: "GPL",
            logLevel: [.instructions, .statistics])
        #expect(loaded.log.contains("processed 2 insns"))
    }

    @Test func rejectedProgramCarriesTheVerifierLog() {
        let exitOnly: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0]
        let error = #expect(throws: BPFSyscallError.self) {
            _ = try Sys.loadProgram(type: socketFilterType, instructions: exitOnly, license: "GPL")
        }
        #expect(error?.command == .progLoad)
        #expect(error?.errno == .permissionDenied)
        #expect(error?.hint == .programRejected)
        #expect(error?.log?.contains("R0 !read_ok") == true)
        #expect(error?.description.contains("R0 !read_ok") == true)
    }

    @Test func findLoadedProgramByID() throws {
        let name = try BPFObjectName("sys_find_me")
        let program = try Sys.loadProgram(
            type: socketFilterType, instructions: returnImmediateProgram(7), license: "GPL", name: name
        ).takeDescriptor()
        let ours = try Sys.objectInfo(of: program, as: ProgInfo.self)
        #expect(ours.id != 0)

        var found = false
        var id: UInt32 = 0
        while let next = try Sys.nextID(of: .program, after: id) {
            id = next
            guard next == ours.id else { continue }
            let opened = try Sys.openObject(.program, id: next)
            let info = try Sys.objectInfo(of: opened, as: ProgInfo.self)
            #expect(info.id == ours.id)
            #expect(info.name == name)
            #expect(info.tag == ours.tag)
            found = true
            break
        }
        #expect(found)
    }
}
