import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@Suite("Program and map introspection (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to read translated instructions and enable statistics"))
struct IntrospectionTests {
    /// r0 = 2; r0 += 3; exit, as a socket filter.
    static func smallProgram() throws -> Program {
        try Program(
            spec: ProgramSpec(
                name: "i19_small", type: .socketFilter, instructions: [.mov64(.r0, 2), .add64(.r0, 3), .exit()]))
    }

    @Test func translatedInstructionsAndJITImage() throws {
        let program = try Self.smallProgram()
        defer { try? program.close() }
        let info = try program.info()
        let translated = try program.translatedProgram()
        #expect(translated.instructions.count == info.translatedInstructionCount)
        #expect(translated.instructions.map(\.slot) == Array(0..<info.translatedInstructionCount))
        #expect(translated.instructions.compactMap(\.instruction) == [.mov64(.r0, 2), .add64(.r0, 3), .exit()])
        #expect(translated.lineInfos.isEmpty)
        #expect(translated.btfID == 0)

        let image = try program.jitedImage()
        #expect(image.bytes.count == info.jitedSize)
        #expect(info.jitedSize > 0, "the host JIT-compiles (net.core.bpf_jit_enable)")
        #expect(image.functionLengths.map(Int.init).reduce(0, +) == image.bytes.count)
        #expect(info.jitedFunctionCount == 1)
        #expect((try program.memoryLockedBytes() ?? 0) > 0)
    }

    @Test func runTimeStatisticsCountWhileTheHandleIsOpen() throws {
        let program = try Self.smallProgram()
        defer { try? program.close() }
        let statistics = try RunTimeStatistics()
        _ = try program.testRun(data: [UInt8](repeating: 0, count: 64), repeat: 10)
        let counted = try program.info()
        statistics.close()
        #expect(statistics.isClosed)
        #expect(counted.runCount >= 10)
        #expect(counted.runTimeNanoseconds > 0)
    }

    @Test func boundMapsAppearInTheProgramsMapIDs() throws {
        let program = try Self.smallProgram()
        defer { try? program.close() }
        let map = try Map(spec: MapSpec(name: "i19_bound", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        #expect(try program.info().mapIDs.isEmpty)
        try program.bind(map)
        let mapID = try map.info().id
        try map.close()
        // The program keeps the map alive after its last descriptor closed.
        #expect(try program.info().mapIDs == [mapID])
        let reopened = try Map(id: mapID)
        try reopened.close()
    }

    @Test func testRunOptionsReachTheKernel() throws {
        let program = try Self.smallProgram()
        defer { try? program.close() }
        // A CPU for a socket filter is refused: the option reached the kernel.
        #expect(throws: ProgramError.self) {
            try program.testRun(data: [UInt8](repeating: 0, count: 64), options: TestRunOptions(cpu: 0))
        }
        #expect(try program.testRun(data: [UInt8](repeating: 0, count: 64)).returnValue == 5)
    }

    @Test func frozenStateAndMemlockOfMaps() throws {
        let map = try Map(spec: MapSpec(name: "i19_frozen", type: .array, keySize: 4, valueSize: 8, maxEntries: 4))
        defer { try? map.close() }
        #expect(try map.isFrozen() == false)
        try map.freeze()
        #expect(try map.isFrozen() == true)
        #expect((try map.memoryLockedBytes() ?? 0) > 0)
        let info = try map.info()
        #expect(info.btfKeyTypeID == 0 && info.btfValueTypeID == 0)
    }
}
