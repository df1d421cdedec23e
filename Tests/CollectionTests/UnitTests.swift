import EBPFCollection
import EBPFSys
import Testing

@Suite("Verifier error formatting")
struct VerifierErrorFormattingTests {
    static let log = """
        func#0 @0
        0: R1=ctx() R10=fp0
        0: (b7) r0 = 0                        ; R0_w=0
        1: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=scalar()
        2: (bf) r0 = r3
        R3 !read_ok
        processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0

        """

    @Test func tailAndFailingInstruction() {
        let error = VerifierError(
            programName: "sample",
            syscallError: BPFSyscallError(command: .progLoad, errno: .permissionDenied, hint: .programRejected, log: Self.log))
        #expect(error.reason == "R3 !read_ok")
        #expect(error.failingInstruction == "2: (bf) r0 = r3")
        #expect(error.failingInstructionIndex == 2)
        #expect(error.meaningfulLines.count == 6)
        #expect(!error.isLogTruncated)
        #expect(error.description == """
            load program sample: Permission denied (EACCES): R3 !read_ok
              verifier log (last 6 of 6 lines):
                func#0 @0
                0: R1=ctx() R10=fp0
                0: (b7) r0 = 0                        ; R0_w=0
                1: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=scalar()
                2: (bf) r0 = r3
                R3 !read_ok
              failing instruction 2: (bf) r0 = r3
            """)
    }

    @Test func longLogShowsOnlyItsEnd() {
        let lines = (0..<50).map { "\($0): (b7) r0 = 0" } + ["some reason"]
        let error = VerifierError(
            programName: "long",
            syscallError: BPFSyscallError(
                command: .progLoad, errno: .invalidArgument, hint: .logBufferTooSmall, log: lines.joined(separator: "\n")))
        #expect(error.tail.count == VerifierError.tailLineCount)
        #expect(error.tail.last == "some reason")
        #expect(error.isLogTruncated)
        #expect(error.description.contains("(last 8 of 51 lines, truncated)"))
    }

    @Test func statisticsFromLog() throws {
        let statistics = try #require(
            VerifierStatistics(log: "processed 12 insns (limit 1000000) max_states_per_insn 1 total_states 3 peak_states 2 mark_read 1\nverification time 25 usec\n"))
        #expect(statistics.processedInstructions == 12)
        #expect(statistics.instructionLimit == 1_000_000)
        #expect(statistics.totalStates == 3)
        #expect(statistics.peakStates == 2)
        #expect(statistics.maxStatesPerInstruction == 1)
        #expect(statistics.verificationTimeMicroseconds == 25)
        #expect(VerifierStatistics(log: "") == nil)
    }
}

@Suite("Errors and small pieces")
struct CollectionUnitTests {
    @Test func mapErrorDescriptions() {
        let error = MapError(mapName: "counts", operation: .update, reason: .keySizeMismatch(given: 4, expected: 8))
        #expect(error.description == "update map counts: key size 4, map expects 8")
        let batch = MapError(mapName: "m", operation: .lookupBatch, reason: .iterationAborted(afterKeys: 3))
        #expect(batch.description.hasPrefix("batch lookup map m: iteration aborted after 3 keys"))
    }

    @Test func unsupportedFeatureDescription() {
        let error = UnsupportedFeatureError(feature: MapType.arena.description, minimumKernelVersion: MapType.arena.minimumKernelVersion)
        #expect(error.description == "BPF_MAP_TYPE_ARENA is not supported by this kernel (requires Linux 6.9)")
        #expect(ProgramType.netfilter.minimumKernelVersion == "6.4")
        #expect(HelperFunction.getAttachCookie.description == "bpf_get_attach_cookie#174")
        #expect(HelperFunction(rawValue: 9999).description == "helper#9999")
    }

    @Test func possibleCPUsIsPositive() throws {
        #expect(try PossibleCPUs.count() >= 1)
    }

    @Test func perCPUTypes() {
        #expect(MapType.percpuArray.isPerCPU)
        #expect(MapType.lruPercpuHash.isPerCPU)
        #expect(!MapType.hash.isPerCPU)
    }
}
