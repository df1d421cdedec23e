import EBPFASM
import Testing

@Suite("Program builder")
struct BuilderTests {
    @Test("labels resolve to raw slot distances, counting lddw as two slots")
    func resolvesLabels() throws {
        let program = try ProgramBuilder {
            Instruction.mov64(.r0, 0)
            Instruction.jumpIf(.r1, .equal, 0, label: "out")
            Instruction.loadImm64(.r2, 1 << 40)
            Instruction.jump32If(.r2, .notEqual, .r3, label: "out")
            Label("loop")
            Instruction.add64(.r0, 1)
            Instruction.mayGoto(label: "out")
            Instruction.jump(label: "loop")
            Label("out")
            Instruction.longJump(label: "end")
            Label("end")
            Instruction.exit()
        }.build()
        #expect(program.map(\.description) == [
            "r0 = 0x0",
            "if r1 == 0x0 goto +0x6",
            "r2 = 0x10000000000 ll",
            "if w2 != w3 goto +0x3",
            "r0 += 0x1",
            "may_goto +0x1",
            "goto -0x3",
            "gotol +0x0",
            "exit",
        ])
        #expect(program.allSatisfy { $0.symbolReference == nil } as Bool)
    }

    @Test("conditions and loops in the result builder")
    func controlFlow() throws {
        let withReturn = true
        let program = try ProgramBuilder {
            for register in [Register.r1, .r2] {
                Instruction.mov64(register, 0)
            }
            if withReturn {
                Instruction.mov64(.r0, 1)
            } else {
                Instruction.mov64(.r0, 2)
            }
            [Instruction.exit()]
        }.build()
        #expect(program == [.mov64(.r1, 0), .mov64(.r2, 0), .mov64(.r0, 1), .exit()])
    }

    @Test("appending, and calls resolved to labels and function symbols")
    func appendingAndCalls() throws {
        var builder = ProgramBuilder()
        builder.append(.call(.function("helper_fn")))
        builder.append(.loadFunctionAddress(.r2, function: "helper_fn"))
        builder.append(.call(.function("elsewhere")))
        builder.append(.exit())
        builder.append(contentsOf: [Instruction.mov64(.r0, 7).withSymbol("helper_fn"), .exit()])
        let program = try builder.build()
        #expect(program[0].constant == 4)
        #expect(program[0].symbolReference == "helper_fn")
        #expect(program[1].constant == 3)
        #expect(program[1].loadImmediateSource == .function)
        #expect(program[2].constant == -1)
        #expect(program[2].symbolReference == "elsewhere")
        let offsets = RawOffsetMap(program)
        #expect(offsets.targetIndex(from: 0, distance: Int(program[0].constant)) == 4)
        #expect(offsets.targetIndex(from: 1, distance: Int(program[1].constant)) == 4)
    }

    @Test("unknown and duplicate labels")
    func labelErrors() {
        #expect(throws: ProgramBuildError.unknownLabel("nowhere", index: 1)) {
            try ProgramBuilder {
                Instruction.mov64(.r0, 0)
                Instruction.jump(label: "nowhere")
            }.build()
        }
        #expect(throws: ProgramBuildError.duplicateLabel("a")) {
            try ProgramBuilder {
                Label("a")
                Instruction.mov64(.r0, 0)
                Label("a")
                Instruction.exit()
            }.build()
        }
        #expect(throws: ProgramBuildError.duplicateLabel("f")) {
            try ProgramBuilder {
                Label("f")
                Instruction.exit().withSymbol("f")
            }.build()
        }
    }

    @Test("a 16-bit offset that does not fit is an error; gotol reaches further")
    func outOfRange() throws {
        var builder = ProgramBuilder()
        builder.append(.jump(label: "far"))
        builder.append(contentsOf: repeatElement(Instruction.mov64(.r0, 0), count: 40_000))
        builder.label("far")
        builder.append(.exit())
        #expect(throws: ProgramBuildError.offsetOutOfRange(label: "far", index: 0, distance: 40_000)) {
            try builder.build()
        }
        var long = ProgramBuilder()
        long.append(.longJump(label: "far"))
        long.append(contentsOf: repeatElement(Instruction.mov64(.r0, 0), count: 40_000))
        long.label("far")
        long.append(.exit())
        #expect(try long.build()[0].constant == 40_000)
    }

    @Test("raw offsets map both ways around lddw")
    func rawOffsets() {
        let program: [Instruction] = [.mov64(.r0, 0), .loadImm64(.r1, 1), .exit()]
        let offsets = RawOffsetMap(program)
        #expect(offsets.instructionCount == 3)
        #expect(offsets.slotCount == 4)
        #expect(program.slotCount == 4)
        #expect((0...3).map { offsets.slot(ofIndex: $0) } == [0, 1, 3, 4])
        #expect(offsets.slot(ofIndex: 4) == nil)
        #expect(offsets.slot(ofIndex: -1) == nil)
        #expect((0...5).map { offsets.index(ofSlot: $0) } == [0, 1, nil, 2, 3, nil])
        #expect(offsets.index(ofByteOffset: 24) == 2)
        #expect(offsets.index(ofByteOffset: 12) == nil)
        #expect(offsets.targetIndex(from: 0, distance: 2) == 2)
        #expect(offsets.targetIndex(from: 0, distance: 1) == nil)
        #expect(offsets.targetIndex(from: 2, distance: Int.max) == nil)
        #expect(offsets.targetIndex(from: 2, distance: -4) == 0)
    }

    @Test("listing numbers raw slots and names branch targets")
    func listing() throws {
        let program = try ProgramBuilder {
            Instruction.loadMapPointer(.r1, map: "events").withSymbol("prog")
            Instruction.jumpIf(.r1, .equal, 0, label: "out")
            Instruction.mov64(.r0, 1)
            Label("out")
            Instruction.exit()
        }.build()
        #expect(program.listing() == """
            <prog>:
            0: ld_pseudo r1, 0x1, 0x0 ; events
            2: if r1 == 0x0 goto +0x1 <LBB4>
            3: r0 = 0x1
            LBB4:
            4: exit
            """)
    }
}
