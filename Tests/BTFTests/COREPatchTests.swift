import EBPFASM
import EBPFBTF
import Testing
import TestSupport

/// Applying fixups to single instructions: which shapes are patched, which are checked against
/// the local value, and what poisoning leaves behind.
@Suite("CO-RE instruction patching")
struct COREPatchTests {
    static let offset = COREFixup(
        kind: .fieldByteOffset, localValue: 8, targetValue: 24, localAccessSize: 4, targetAccessSize: 8)

    @Test func loadOffsetAndSizeFollowTheTarget() {
        let load = Instruction.load(.r1, from: .r2, offset: 8, size: .word)
        #expect(Self.offset.patch(load) == .patched(.load(.r1, from: .r2, offset: 24, size: .doubleWord)))
        let store = Instruction.store(.r1, to: .r2, offset: 8, size: .word)
        #expect(Self.offset.patch(store) == .patched(.store(.r1, to: .r2, offset: 24, size: .doubleWord)))
    }

    @Test func loadThatDoesNotHoldTheLocalValueFails() {
        let load = Instruction.load(.r1, from: .r2, offset: 12, size: .word)
        #expect(Self.offset.patch(load) == .failed(.unexpectedValue(actual: 12, expected: 8)))
        let wrongSize = Instruction.load(.r1, from: .r2, offset: 8, size: .halfWord)
        #expect(Self.offset.patch(wrongSize) == .failed(.unexpectedAccessSize(actual: 2, expected: 4)))
    }

    @Test func offsetBeyondSixteenBitsFails() {
        let far = COREFixup(kind: .fieldByteOffset, localValue: 8, targetValue: 40000)
        #expect(far.patch(.load(.r1, from: .r2, offset: 8, size: .word)) == .failed(.valueOutOfRange(40000)))
    }

    @Test func sizeChangeOfASignedFieldPoisons() {
        var signed = Self.offset
        signed.accessSizeCannotChange = true
        #expect(signed.patch(.load(.r1, from: .r2, offset: 8, size: .word)) == .replaced([COREFixup.poisonInstruction]))
    }

    @Test func aluImmediateIsPatchedAndChecked() {
        let size = COREFixup(kind: .fieldByteSize, localValue: 2, targetValue: 4)
        #expect(size.patch(.mov64(.r2, 2)) == .patched(.mov64(.r2, 4)))
        #expect(size.patch(.mov64(.r2, 3)) == .failed(.unexpectedValue(actual: 3, expected: 2)))
        guard case .failed(.unexpectedInstruction) = size.patch(.mov64(.r2, .r3)) else {
            Issue.record("an ALU instruction with a register operand cannot be relocated")
            return
        }
        var unchecked = size
        unchecked.validatesLocalValue = false
        #expect(unchecked.patch(.mov64(.r2, 3)) == .patched(.mov64(.r2, 4)))
    }

    @Test func wideImmediateIsPatchedAndPoisonedAsTwoSlots() {
        let id = COREFixup(kind: .typeIDTarget, localValue: 5, targetValue: 0x1_0000_0001, validatesLocalValue: false)
        #expect(id.patch(.loadImm64(.r2, 5)) == .patched(.loadImm64(.r2, 0x1_0000_0001)))
        guard case .failed(.unexpectedInstruction) = id.patch(.loadMapPointer(.r1, map: "m")) else {
            Issue.record("a lddw of a map cannot be relocated")
            return
        }
        let poison = COREFixup(kind: .enumValueValue, localValue: 3, targetValue: 0, isPoisoned: true)
        let call = COREFixup.poisonInstruction
        #expect(call.constant == 0xbad2310 && call.isHelperCall)
        #expect(poison.patch(.loadImm64(.r2, 3)) == .replaced([call, call]))
        #expect(poison.patch(.mov64(.r2, 3).withSymbol("f")) == .replaced([call.withSymbol("f")]))
    }

    @Test func otherInstructionsCannotBeRelocated() {
        let fixup = COREFixup(kind: .fieldByteSize, localValue: 2, targetValue: 4)
        guard case .failed(.unexpectedInstruction) = fixup.patch(.exit()) else {
            Issue.record("exit cannot be relocated")
            return
        }
    }
}
