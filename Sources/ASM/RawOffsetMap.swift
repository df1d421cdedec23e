/// Translates between instruction indices and raw 8-byte slots.
///
/// Jump offsets, call offsets and ELF relocations count raw slots, in which a `lddw` takes two;
/// an `[Instruction]` counts it once. Build the map once per program and look up in both
/// directions.
public struct RawOffsetMap: Sendable, Hashable {
    /// `slots[i]` is the first slot of instruction `i`; the last element is the total slot count.
    @usableFromInline var slots: [Int]

    // Inlinable so that it is specialised for the caller's sequence: run generically, every
    // element costs a trip through the iterator's witness table and a copy of the instruction.
    @inlinable
    public init(_ instructions: some Sequence<Instruction>) {
        var slots: [Int] = [0]
        slots.reserveCapacity(instructions.underestimatedCount + 1)
        var slot = 0
        for instruction in instructions {
            slot += instruction.slotCount
            slots.append(slot)
        }
        self.slots = slots
    }

    /// The number of instructions.
    public var instructionCount: Int {
        slots.count - 1
    }

    /// The number of raw slots, which is the byte size divided by 8.
    public var slotCount: Int {
        slots[slots.count - 1]
    }

    /// The first raw slot of the instruction at `index`; `index == instructionCount` gives the slot
    /// just past the end. Nil when out of range.
    public func slot(ofIndex index: Int) -> Int? {
        guard index >= 0, index < slots.count else { return nil }
        return slots[index]
    }

    /// The index of the instruction starting at raw slot `slot`; `slot == slotCount` gives
    /// `instructionCount`. Nil when out of range or inside a `lddw`.
    public func index(ofSlot slot: Int) -> Int? {
        var low = 0
        var high = slots.count
        while low < high {
            let middle = low + (high - low) / 2
            if slots[middle] < slot {
                low = middle + 1
            } else {
                high = middle
            }
        }
        guard low < slots.count, slots[low] == slot else { return nil }
        return low
    }

    /// The index of the instruction starting at byte offset `byteOffset`, as relocation entries
    /// give it. Nil when it is not the start of an instruction.
    public func index(ofByteOffset byteOffset: Int) -> Int? {
        guard byteOffset >= 0, byteOffset % Instruction.slotSize == 0 else { return nil }
        return index(ofSlot: byteOffset / Instruction.slotSize)
    }

    /// The index of the instruction a branch, subprogram call or function address at `index`
    /// points to, given its ``Instruction/relativeTarget``: the slot after the instruction's first
    /// slot plus the distance. Nil when the target is out of range or inside a `lddw`.
    public func targetIndex(from index: Int, distance: Int) -> Int? {
        guard index >= 0, index < instructionCount else { return nil }
        let (next, overflow) = slots[index].addingReportingOverflow(1)
        guard !overflow else { return nil }
        let (target, targetOverflow) = next.addingReportingOverflow(distance)
        guard !targetOverflow else { return nil }
        return self.index(ofSlot: target)
    }
}

extension Collection where Element == Instruction {
    /// The number of raw 8-byte slots these instructions take.
    public var slotCount: Int {
        reduce(0) { $0 + $1.slotCount }
    }
}
