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

    /// Issue 16: a target value was cut to 32 bits without a word. A 64-bit operation
    /// sign-extends its immediate, so it takes at most Int32.max; a 32-bit one any UInt32.
    @Test func immediateBeyondThirtyTwoBitsFails() {
        let big = COREFixup(kind: .enumValueValue, localValue: 1, targetValue: 0x1_0000_0001)
        #expect(big.patch(.mov64(.r2, 1)) == .failed(.valueOutOfRange(0x1_0000_0001)))
        #expect(big.patch(.mov32(.r2, 1)) == .failed(.valueOutOfRange(0x1_0000_0001)))
        let signBit = COREFixup(kind: .enumValueValue, localValue: 1, targetValue: 0x8000_0000)
        #expect(signBit.patch(.mov64(.r2, 1)) == .failed(.valueOutOfRange(0x8000_0000)))
        #expect(signBit.patch(.mov32(.r2, 1)) == .patched(.mov32(.r2, Int32.min)))
        let largestSigned = COREFixup(kind: .enumValueValue, localValue: 1, targetValue: UInt64(Int32.max))
        #expect(largestSigned.patch(.mov64(.r2, 1)) == .patched(.mov64(.r2, .max)))
        let allOnes = COREFixup(kind: .enumValueValue, localValue: 1, targetValue: UInt64(UInt32.max))
        #expect(allOnes.patch(.mov32(.r2, 1)) == .patched(.mov32(.r2, -1)))
    }

    /// Issue 16: the immediate of a byte swap is its width; relocating it rewrote the swap.
    @Test func byteSwapsCannotBeRelocated() {
        var fixup = COREFixup(kind: .fieldByteSize, localValue: 16, targetValue: 32)
        fixup.validatesLocalValue = false
        let swaps: [Instruction] = [
            .toLittleEndian(.r1, width: .bits16), .toBigEndian(.r1, width: .bits16), .byteSwap(.r1, width: .bits16),
        ]
        for swap in swaps {
            guard case .failed(.unexpectedInstruction(let why)) = fixup.patch(swap) else {
                Issue.record("\(swap) was relocated: \(fixup.patch(swap))")
                continue
            }
            #expect(why.contains("byte swap"))
        }
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
