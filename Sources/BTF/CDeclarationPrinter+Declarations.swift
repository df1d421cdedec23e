extension CDeclarationPrinter {
    // MARK: - Layout

    /// The alignment C gives type `id` on a 64-bit target, as far as BTF tells it: scalars align
    /// to their size (at most 8), composites to their strictest member, and a composite whose
    /// member offsets or size contradict natural alignment must have been packed (alignment 1).
    func alignment(of id: BTFTypeID) throws(BTFError) -> Int {
        let index = Int(id.rawValue)
        guard index < typeCount else { throw .noSuchType(id) }
        if alignments[index] >= 0 { return Int(alignments[index]) }
        func store(_ value: Int, at index: Int) -> Int {
            alignments[index] = Int8(truncatingIfNeeded: value)
            return value
        }
        var current = id
        var steps = 0
        while true {
            let type = try record(current)
            switch type.kind {
            case 1, 6, 16, 19:  // int, enum, float, enum64
                return store(min(8, Int(type.size)), at: index)
            case 2:
                return store(8, at: index)
            case 8, 9, 10, 11, 18:  // typedef, qualifiers, type tag
                current = type.referencedType
            case 3:
                current = type.arrayElementType
            case 4, 5:
                try nest(current)
                defer { depth -= 1 }
                var strictest = 1
                var packed = false
                for member in 0..<type.vlen {
                    let memberAlignment = max(1, try alignment(of: type.memberType(member)))
                    strictest = max(strictest, memberAlignment)
                    if type.memberBitfieldSize(member) == 0, type.memberBitOffset(member) % (8 * memberAlignment) != 0 {
                        packed = true
                    }
                }
                if Int(type.size) % strictest != 0 { packed = true }
                return store(packed ? 1 : strictest, at: index)
            default:  // void, forward, function, prototype, variable, data section, declaration tag
                return store(0, at: index)
            }
            steps += 1
            if steps > typeCount {
                throw .referenceCycle(id: id, offset: spec.recordOffset(id) ?? 0)
            }
        }
    }

    /// Whether a struct's layout shows it was declared packed.
    func isPacked(_ type: BTFRecord) throws(BTFError) -> Bool {
        var strictest = 1
        for member in 0..<type.vlen {
            let memberAlignment = try alignment(of: type.memberType(member))
            if memberAlignment > 0, type.memberBitfieldSize(member) == 0,
                type.memberBitOffset(member) % (8 * memberAlignment) != 0
            {
                return true
            }
            strictest = max(strictest, memberAlignment)
        }
        return Int(type.size) % strictest != 0
    }

    /// The size of a value of type `id` in bytes (as `BTFSpec.size(of:)`, capped at `Int32.max`),
    /// 0 for types without one.
    func byteSize(of id: BTFTypeID) throws(BTFError) -> Int {
        var current = id
        var multiplier: UInt64 = 1
        var steps = 0
        func scaled(_ size: UInt64, at id: BTFTypeID) throws(BTFError) -> UInt64 {
            let (product, overflow) = multiplier.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw .invalidType(id: id, offset: spec.recordOffset(id) ?? 0, reason: "size overflows 64 bits")
            }
            return product
        }
        while true {
            let type = try record(current)
            let size: UInt64
            switch type.kind {
            case 1, 4, 5, 6, 15, 16, 19:  // int, composites, enums, data section, float
                size = try scaled(UInt64(type.size), at: current)
            case 2:
                size = try scaled(8, at: current)
            case 3:
                multiplier = try scaled(UInt64(type.arrayCount), at: current)
                current = type.arrayElementType
                size = 0
            case 8, 9, 10, 11, 14, 18:  // typedef, qualifiers, variable, type tag
                current = type.referencedType
                size = 0
            default:  // void, forward, function, prototype, declaration tag
                return 0
            }
            switch type.kind {
            case 3, 8, 9, 10, 11, 14, 18: break
            default: return size > UInt64(Int32.max) ? Int(Int32.max) : Int(size)
            }
            steps += 1
            guard steps <= typeCount else {
                throw .referenceCycle(id: id, offset: spec.recordOffset(id) ?? 0)
            }
        }
    }

    // MARK: - Structs and unions

    func writeComposite(_ id: BTFTypeID, _ type: BTFRecord, level: Int) throws(BTFError) {
        let kind = type.kind
        guard kind == BTFKind.struct.rawValue || kind == BTFKind.union.rawValue else { return }
        let isStruct = kind == BTFKind.struct.rawValue
        try nest(id)
        defer { depth -= 1 }
        let structAlignment = try alignment(of: id)
        let packed = isStruct ? try isPacked(type) : false
        let name = typeName(id)
        write(isStruct ? "struct" : "union")
        if isEmpty(name) {
            write(" {")
        } else {
            write(" ")
            writeName(name)
            write(" {")
        }

        var end = 0
        var previousWasBitfield = false
        let count = type.vlen
        for member in 0..<count {
            let bitfieldSize = type.memberBitfieldSize(member)
            let offset = type.memberBitOffset(member)
            let memberType = type.memberType(member)
            let memberAlignment = packed ? 1 : try alignment(of: memberType)
            try checkPaddingWidth(from: end, to: offset, of: id)
            writePadding(
                from: end, to: offset, nextAlignment: memberAlignment,
                inBitfield: previousWasBitfield && bitfieldSize != 0, level: level + 1)
            output.append(0x0A)
            writeTabs(level + 1)
            try writeDeclaration(of: memberType, name: DeclaredName(offset: type.memberNameOffset(member)), level: level + 1)
            if bitfieldSize != 0 {
                write(": ")
                writeDecimal(bitfieldSize)
                end = offset + bitfieldSize
                previousWasBitfield = true
            } else {
                end = offset + (try byteSize(of: memberType)) * 8
                previousWasBitfield = false
            }
            write(";")
        }
        if isStruct {
            try checkPaddingWidth(from: end, to: Int(type.size) * 8, of: id)
            writePadding(
                from: end, to: Int(type.size) * 8, nextAlignment: structAlignment, inBitfield: false,
                level: level + 1)
        }
        if count != 0 || type.size != 0 {
            output.append(0x0A)
            writeTabs(level)
        }
        write("}")
        if packed { write(" __attribute__((packed))") }
    }

    /// The widest gap written as padding: one `long: 64;` line per 8 bytes, so a hostile struct
    /// size or member offset near 2^32 would print gigabytes. No real type has a 16 MiB gap.
    static let maximumPaddingBits = 1 << 27

    private func checkPaddingWidth(from start: Int, to next: Int, of id: BTFTypeID) throws(BTFError) {
        guard next - start <= Self.maximumPaddingBits else {
            throw .invalidType(
                id: id, offset: spec.recordOffset(id) ?? 0,
                reason: "a gap of \((next - start) / 8) bytes before byte \(next / 8) is too wide to print as padding")
        }
    }

    private static let paddings: [(name: StaticString, bits: Int)] = [("long", 64), ("int", 32), ("short", 16), ("char", 8)]

    private func writePaddingField(_ name: StaticString, bits: Int, level: Int) {
        output.append(0x0A)
        writeTabs(level)
        write(name)
        write(": ")
        writeDecimal(bits)
        write(";")
    }

    /// Fills the gap between bit `start` and bit `next` with unnamed bitfields, relying on the
    /// compiler's natural alignment where that reproduces the gap and adding `type: 0` marks
    /// where it would not.
    private func writePadding(from start: Int, to next: Int, nextAlignment: Int, inBitfield: Bool, level: Int) {
        guard start < next else { return }
        let paddings = Self.paddings
        func roundUp(_ value: Int, _ multiple: Int) -> Int {
            multiple <= 0 ? value : (value + multiple - 1) / multiple * multiple
        }
        var current = start
        var chosen = paddings[paddings.count - 1]
        var aligned = current
        for padding in paddings {
            chosen = padding
            aligned = roundUp(current, padding.bits)
            if aligned <= next { break }
        }
        if aligned > current, aligned <= next {
            let naturallyReached = roundUp(current, nextAlignment * 8) == aligned
            if inBitfield || (aligned == next && !naturallyReached)
                || (aligned != next && next - aligned <= aligned - current)
            {
                writePaddingField(chosen.name, bits: inBitfield ? aligned - current : 0, level: level)
            }
            current = aligned
        }
        while current != next {
            let bits = min(next - current, chosen.bits)
            if bits == chosen.bits {
                writePaddingField(chosen.name, bits: bits, level: level)
                current += bits
                continue
            }
            for padding in paddings.reversed() where padding.bits >= bits {
                writePaddingField(padding.name, bits: bits, level: level)
                current += bits
                break
            }
        }
    }

    // MARK: - Declarators

    /// Writes a declaration of `name` with type `id`: the base type with its qualifiers, then the
    /// declarator built from pointers, arrays and function prototypes, inside out.
    ///
    /// The chain from `id` to the base type goes on top of ``chain`` (declarations nest: the
    /// parameters of a function pointer, the members of an anonymous struct) and is taken off
    /// again as it is written.
    func writeDeclaration(of id: BTFTypeID, name: DeclaredName, level: Int) throws(BTFError) {
        let floor = chain.count
        var current = id
        walk: while true {
            if chain.count &- floor > Self.maximumNesting {
                throw .invalidType(
                    id: id, offset: spec.recordOffset(id) ?? 0,
                    reason: "declarator nests deeper than \(Self.maximumNesting) levels")
            }
            chain.append(current)
            let type = try record(current)
            switch type.kind {
            case 2, 9, 10, 11, 18, 13:  // pointer, qualifiers, type tag, prototype's return
                current = type.referencedType
            case 3:
                current = type.arrayElementType
            default:
                break walk
            }
        }
        try writeChain(floor: floor, name: name, level: level)
    }

    @inline(__always)
    private func isQualifier(_ kind: UInt8) -> Bool { kind == 9 || kind == 10 || kind == 11 || kind == 18 }

    /// The innermost element of the chain above `floor`, if any.
    @inline(__always)
    private func chainLast(above floor: Int) -> BTFTypeID? { chain.count > floor ? chain[chain.count - 1] : nil }

    /// Writes `const`, `volatile` and `restrict` in front of a base type, taking them off the
    /// chain's end.
    private func writeQualifiers(floor: Int) throws(BTFError) {
        while let last = chainLast(above: floor) {
            switch try record(last).kind {
            case 9: write("volatile ")
            case 10: write("const ")
            case 11: write("restrict ")
            default: return
            }
            chain.removeLast()
        }
    }

    /// Qualifiers on arrays and function prototypes mean nothing in C (GCC emits them anyway).
    private func dropQualifiers(floor: Int) throws(BTFError) {
        while let last = chainLast(above: floor), isQualifier(try record(last).kind) {
            chain.removeLast()
        }
    }

    private func writeName(_ name: DeclaredName, afterPointer: Bool) {
        if !afterPointer, !isEmpty(name) { output.append(0x20) }
        writeName(name)
    }

    /// Writes the chain above `floor`, whose outermost element is first and base type last.
    private func writeChain(floor: Int, name: DeclaredName, level: Int) throws(BTFError) {
        var afterPointer = true
        while chain.count > floor {
            let id = chain.removeLast()
            let type = try record(id)
            let kind = type.kind
            switch kind {
            case 0:
                try writeQualifiers(floor: floor)
                write("void")
            case 1, 16:  // int, float
                try writeQualifiers(floor: floor)
                writeString(type.nameOffset)
            case 4, 5:
                try writeQualifiers(floor: floor)
                if isEmptyName(type.nameOffset) {
                    try writeComposite(id, type, level: level)
                } else {
                    write(kind == BTFKind.union.rawValue ? "union " : "struct ")
                    writeName(typeName(id))
                }
            case 6, 19:
                try writeQualifiers(floor: floor)
                if isEmptyName(type.nameOffset) {
                    try writeEnum(id, type, level: level)
                } else {
                    write("enum ")
                    writeName(typeName(id))
                }
            case 7:
                try writeQualifiers(floor: floor)
                write(type.kindFlag ? "union " : "struct ")
                writeName(typeName(id))
            case 8:
                try writeQualifiers(floor: floor)
                writeName(identifierName(id))
            case 2:
                if afterPointer { write("*") } else { write(" *") }
            case 9:
                write(" volatile")
            case 10:
                write(" const")
            case 11:
                write(" restrict")
            case 18:
                try writeQualifiers(floor: floor)
                write(" __attribute__((btf_type_tag(\"")
                writeString(type.nameOffset)
                write("\")))")
            case 3:
                try dropQualifiers(floor: floor)
                guard let next = chainLast(above: floor) else {
                    writeName(name, afterPointer: afterPointer)
                    write("[")
                    writeDecimal(UInt64(type.arrayCount))
                    write("]")
                    return
                }
                let multidimensional = try record(next).kind == BTFKind.array.rawValue
                if !isEmpty(name), !afterPointer { output.append(0x20) }
                if !multidimensional { write("(") }
                try writeChain(floor: floor, name: name, level: level)
                if !multidimensional { write(")") }
                write("[")
                writeDecimal(UInt64(type.arrayCount))
                write("]")
                return
            case 13:
                try dropQualifiers(floor: floor)
                if chain.count <= floor {
                    writeName(name, afterPointer: afterPointer)
                } else {
                    write(" (")
                    try writeChain(floor: floor, name: name, level: level)
                    write(")")
                }
                write("(")
                let count = type.vlen
                if count == 0 || (count == 1 && type.parameterType(0) == .void) {
                    write("void)")
                    return
                }
                for position in 0..<count {
                    if position > 0 { write(", ") }
                    let parameterType = type.parameterType(position)
                    if position == count - 1, parameterType == .void {
                        write("...")
                        break
                    }
                    try writeDeclaration(
                        of: parameterType, name: DeclaredName(offset: type.parameterNameOffset(position)), level: level)
                }
                write(")")
                return
            default:
                // Functions, variables, data sections and declaration tags are not part of a type
                // expression; nothing sensible to print.
                break
            }
            afterPointer = kind == BTFKind.pointer.rawValue
        }
        writeName(name, afterPointer: afterPointer)
    }
}
