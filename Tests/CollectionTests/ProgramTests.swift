import EBPFASM
import EBPFCollection
import EBPFSys
import Testing
import TestSupport

@Suite("Programs", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct ProgramTests {
    /// Returns the packet's length when its first byte is 0x45 (IPv4 without options), else 0.
    static func ipv4LengthFilter() throws -> [Instruction] {
        try ProgramBuilder {
            Instruction.mov64(.r6, .r1)
            Instruction.loadAbsolute(offset: 0, size: .byte)
            Instruction.jumpIf(.r0, .equal, 0x45, label: "ipv4")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
            Label("ipv4")
            Instruction.load(.r0, from: .r6, offset: 0, size: .word)  // __sk_buff.len
            Instruction.exit()
        }.build()
    }

    @Test func loadsBuiltProgramAndRunsIt() throws {
        let spec = ProgramSpec(name: "ipv4_length_filter", type: .socketFilter, instructions: try Self.ipv4LengthFilter())
        let program = try Program(spec: spec)
        #expect(program.name == "ipv4_length_filter")
        #expect(program.type == .socketFilter)
        #expect(program.verifierLog.isEmpty)
        #expect(program.fileDescriptorValue > 0)

        // Test runs of socket filters strip the Ethernet header: the filter sees the packet from
        // byte 14 on, and the output has the header zeroed.
        var ipv4 = [UInt8](repeating: 0x11, count: 60)
        ipv4[14] = 0x45
        let run = try program.testRun(data: ipv4, repeat: 3)
        #expect(run.returnValue == 46)
        #expect(run.data == [UInt8](repeating: 0, count: 14) + ipv4[14...])
        #expect(try program.testRun(data: testPacket).returnValue == 0)

        let info = try program.info()
        #expect(info.type == .socketFilter)
        #expect(info.name == "ipv4_length_fil")
        #expect(info.tag.count == 16)
        #expect(info.mapIDs.isEmpty)
        #expect(info.id > 0)
        #expect(try program.verifiedInstructionCount() > 0)
        #expect(try Program.allIDs().contains(info.id))

        let byID = try Program(id: info.id)
        #expect(byID.type == .socketFilter)
        #expect(try byID.testRun(data: ipv4).returnValue == 46)
        try byID.close()
    }

    @Test func verifierErrorCarriesLogAndShowsFailingInstruction() throws {
        let spec = ProgramSpec(
            name: "reads_r2", type: .socketFilter, instructions: [.mov64(.r0, 0), .mov64(.r0, .r2), .exit()])
        let before = openDescriptorCount()
        let error = #expect(throws: ProgramError.self) { try Program(spec: spec) }
        #expect(openDescriptorCount() == before, "a failed load leaves no descriptor behind")
        let verifier = try #require(error?.verifierError)
        #expect(verifier.programName == "reads_r2")
        #expect(verifier.errno == .permissionDenied)
        #expect(verifier.log.contains("R2 !read_ok"))
        #expect(verifier.reason == "R2 !read_ok")
        #expect(verifier.failingInstructionIndex == 1)
        #expect(verifier.failingInstruction == "1: (bf) r0 = r2")
        let text = verifier.description
        #expect(text.hasPrefix("load program reads_r2: Permission denied (EACCES): R2 !read_ok"))
        #expect(text.contains("failing instruction 1: (bf) r0 = r2"))
        #expect(error?.description == text)
    }

    @Test func logOptions() throws {
        let instructions: [Instruction] = [.mov64(.r0, 0), .exit()]
        let withStatistics = try Program(
            spec: ProgramSpec(name: "stats", type: .socketFilter, instructions: instructions),
            options: ProgramOptions(logLevel: .statistics))
        let statistics = try #require(withStatistics.verifierStatistics)
        #expect(statistics.processedInstructions == 2)
        #expect(statistics.instructionLimit == 1_000_000)

        // Without a log the error has nothing to show, but is still a verifier rejection.
        let silent = #expect(throws: ProgramError.self) {
            try Program(
                spec: ProgramSpec(name: "silent", type: .socketFilter, instructions: [.mov64(.r0, .r2), .exit()]),
                options: ProgramOptions(logDisabled: true))
        }
        let verifier = try #require(silent?.verifierError)
        #expect(verifier.log.isEmpty)
        #expect(verifier.description.contains("no verifier log"))

        // A tiny starting buffer grows until the log fits.
        let grown = #expect(throws: ProgramError.self) {
            try Program(
                spec: ProgramSpec(
                    name: "grows", type: .socketFilter,
                    instructions: Array(repeating: .mov64(.r0, 0), count: 100) + [.mov64(.r0, .r2), .exit()]),
                options: ProgramOptions(logSize: 128))
        }
        let grownLog = try #require(grown?.verifierError)
        #expect(grownLog.reason == "R2 !read_ok")
        #expect(!grownLog.isLogTruncated)
    }

    @Test func programReadsArrayMapThroughItsDescriptor() throws {
        let values = try Map(spec: MapSpec(name: "values", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        try values.update(UInt32(0), UInt32(1234))
        let program = try #require(
            try values.withFileDescriptorValue { (fd: Int32) throws(ProgramError) -> Program in
                try Program(spec: ProgramSpec(name: "read_map", type: .socketFilter, instructions: try! Self.lookupKeyZero(mapFD: fd)))
            })
        #expect(try program.testRun(data: testPacket).returnValue == 1234)
        try values.update(UInt32(0), UInt32(99))
        #expect(try program.testRun(data: testPacket).returnValue == 99)
        #expect(try program.info().mapIDs == [values.info().id])
    }

    /// `return map[0]` (as a u32), or 0 when the lookup fails.
    static func lookupKeyZero(mapFD: Int32, thenInner: Bool = false) throws -> [Instruction] {
        var builder = ProgramBuilder()
        builder.append(.store(0, to: .r10, offset: -4, size: .word))
        builder.append(.loadMapPointer(.r1, fileDescriptor: mapFD))
        builder.append(.mov64(.r2, .r10))
        builder.append(.add64(.r2, -4))
        builder.append(.callHelper(HelperFunction.mapLookupElem.rawValue))
        builder.append(.jumpIf(.r0, .equal, 0, label: "miss"))
        if thenInner {
            builder.append(.mov64(.r1, .r0))
            builder.append(.mov64(.r2, .r10))
            builder.append(.add64(.r2, -4))
            builder.append(.callHelper(HelperFunction.mapLookupElem.rawValue))
            builder.append(.jumpIf(.r0, .equal, 0, label: "miss"))
        }
        builder.append(.load(.r0, from: .r0, offset: 0, size: .word))
        builder.append(.exit())
        builder.label("miss")
        builder.append(.mov64(.r0, 0))
        builder.append(.exit())
        return try builder.build()
    }

    @Test func mapInMapFromAProgram() throws {
        let innerSpec = MapSpec(name: "inner", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
        let outer = try Map(
            spec: MapSpec(name: "outer", type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: innerSpec))
        let inner = try Map(spec: innerSpec)
        try inner.update(UInt32(0), UInt32(777))
        try outer.update(UInt32(0), map: inner)
        let instructions = try #require(outer.withFileDescriptorValue { try Self.lookupKeyZero(mapFD: $0, thenInner: true) })
        let program = try Program(spec: ProgramSpec(name: "map_in_map", type: .socketFilter, instructions: instructions))
        #expect(try program.testRun(data: testPacket).returnValue == 777)
        try outer.delete(UInt32(0))
        #expect(try program.testRun(data: testPacket).returnValue == 0)
    }

    @Test func tailCallThroughProgramArray() throws {
        let jumps = try Map(spec: MapSpec(name: "jumps", type: .progArray, keySize: 4, valueSize: 4, maxEntries: 1))
        let target = try returningProgram(42, name: "target")
        let instructions: [Instruction] = try #require(
            jumps.withFileDescriptorValue { fd in
                [.loadMapPointer(.r2, fileDescriptor: fd), .mov64(.r3, 0), .callHelper(HelperFunction.tailCall.rawValue),
                 .mov64(.r0, 1), .exit()]
            })
        let caller = try Program(spec: ProgramSpec(name: "caller", type: .socketFilter, instructions: instructions))
        #expect(try caller.testRun(data: testPacket).returnValue == 1)  // empty slot: the call falls through
        try jumps.update(UInt32(0), program: target)
        #expect(try caller.testRun(data: testPacket).returnValue == 42)
    }

    @Test(.enabled(if: Privileges.canAdminister, "mounting bpffs needs CAP_SYS_ADMIN"))
    func pinAndReopen() throws {
        try ensureBPFFSMounted()
        let path = uniquePinPath("program")
        let program = try returningProgram(5, name: "pinned_prog")
        try program.pin(at: path)
        let reopened = try Program(pinnedAt: path)
        #expect(reopened.name == "pinned_prog")
        #expect(reopened.type == .socketFilter)
        #expect(try reopened.testRun(data: testPacket).returnValue == 5)
        try program.unpin()
        #expect(!fileExists(path))
    }

    @Test func closingTwiceIsSafe() throws {
        let program = try returningProgram(1)
        let clone = try program.clone()
        try program.close()
        try program.close()
        #expect(program.isClosed)
        #expect(program.fileDescriptorValue == -1)
        let error = #expect(throws: ProgramError.self) { _ = try program.testRun(data: testPacket) }
        #expect(error?.description == "test run program returns: the program is closed")
        #expect(try clone.testRun(data: testPacket).returnValue == 1)
        let duplicate = try clone.duplicateFileDescriptor()
        #expect(duplicate.rawValue != clone.fileDescriptorValue)
    }

    @Test func kernelErrorsThatAreNotTheVerifiers() throws {
        // An attach type a socket filter cannot have is refused before verification.
        let error = #expect(throws: ProgramError.self) {
            try Program(spec: ProgramSpec(name: "odd", type: ProgramType(rawValue: 9999), instructions: [.mov64(.r0, 0), .exit()]))
        }
        #expect(error?.syscallError?.errno == .invalidArgument)
    }
}

@Suite("Program specs without privileges")
struct ProgramSpecCheckTests {
    @Test func unresolvedReferencesAreNamed() throws {
        let spec = ProgramSpec(
            name: "uses_map", type: .socketFilter,
            instructions: [.mov64(.r0, 0), .loadMapPointer(.r1, map: "counts"), .exit()])
        let error = #expect(throws: ProgramError.self) { try Program(spec: spec) }
        guard case .unresolvedReference(let index, let symbol)? = error?.reason else {
            Issue.record("expected an unresolved reference, got \(String(describing: error))")
            return
        }
        #expect(index == 1 && symbol == "counts")
        #expect(error?.description == "load program uses_map: instruction 1 refers to unresolved symbol counts")

        let call: [Instruction] = [.call(.function("helper_function")), .exit()]
        #expect(call.firstUnresolvedReference?.symbol == "helper_function")
        let kfunc: [Instruction] = [.call(.kernelFunctionNamed("bpf_task_acquire")), .exit()]
        #expect(kfunc.firstUnresolvedReference?.index == 0)
        let resolved: [Instruction] = [.loadMapPointer(.r1, fileDescriptor: 5), .mov64(.r0, 0), .exit()]
        #expect(resolved.firstUnresolvedReference == nil)
        let subprogram = try ProgramBuilder {
            Instruction.call(.function("sub"))
            Instruction.exit()
            Instruction.mov64(.r0, 0).withSymbol("sub")
            Instruction.exit()
        }.build()
        #expect(subprogram.firstUnresolvedReference == nil)
    }

    @Test func emptyProgramIsRefused() {
        let error = #expect(throws: ProgramError.self) {
            try Program(spec: ProgramSpec(name: "empty", type: .socketFilter, instructions: []))
        }
        if case .noInstructions? = error?.reason {} else { Issue.record("expected noInstructions") }
    }
}
