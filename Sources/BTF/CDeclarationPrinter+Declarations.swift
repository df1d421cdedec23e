extension CDeclarationPrinter {
    // MARK: - Layout

    /// The alignment C gives type `id` on a 64-bit target, as far as BTF tells it: scalars align
    /// to their size (at most 8), composites to their strictest member, and a composite whose
    /// member offsets or size contradict natural alignment must have been packed (alignment 1).
    func alignment(of id: BTFTypeID) throws(BTFError) -> Int {
        let index = Int(id.rawValue)
        guard index < types.count else { throw .noSuchType(id) }
        if alignments[index] >= 0 { return Int(alignments[index]) }
        func store(_ value: Int, at index: Int) -> Int {
            alignments[index] = Int32(value)
            return value
        }
        var current = id
        var steps = 0
        while true {
            switch try type(current) {
            case .int(let t): return store(min(8, Int(t.size)), at: index)
            case .enum(let t), .enum64(let t): return store(min(8, Int(t.size)), at: index)
            case .float(let t): return store(min(8, Int(t.size)), at: index)
            case .pointer: return store(8, at: index)
            case .typedef(let t): current = t.type
            case .volatile(let t), .const(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            case .array(let t): current = t.elementType
            case .struct(let composite), .union(let composite):
                try nest(current)
                defer { depth -= 1 }
                var strictest = 1
                var packed = false
                for member in composite.members {
                    let memberAlignment = max(1, try alignment(of: member.type))
                    strictest = max(strictest, memberAlignment)
                    if member.bitfieldSize == 0, Int(member.bitOffset) % (8 * memberAlignment) != 0 {
                        packed = true
                    }
                }
                if Int(composite.size) % strictest != 0 { packed = true }
                return store(packed ? 1 : strictest, at: index)
            case .void, .forward, .function, .functionPrototype, .variable, .dataSection, .declarationTag:
                return store(0, at: index)
            }
            steps += 1
            if steps > types.count {
                throw .referenceCycle(id: id, offset: spec.recordOffset(id) ?? 0)
            }
        }
    }

    /// Whether a struct's layout shows it was declared packed.
    func isPacked(_ id: BTFTypeID, _ composite: BTFComposite) throws(BTFError) -> Bool {
        var strictest = 1
        for member in composite.members {
            let memberAlignment = try alignment(of: member.type)
            if memberAlignment > 0, member.bitfieldSize == 0, Int(member.bitOffset) % (8 * memberAlignment) != 0 {
                return true
            }
            strictest = max(strictest, memberAlignment)
        }
        return Int(composite.size) % strictest != 0
    }

    /// The size of a value of type `id` in bytes, 0 for types without one.
    func byteSize(of id: BTFTypeID) throws(BTFError) -> Int {
        guard let size = try spec.size(of: id) else { return 0 }
        return size > UInt64(Int32.max) ? Int(Int32.max) : Int(size)
    }

    // MARK: - Structs and unions

    func writeComposite(_ id: BTFTypeID, _ type: BTFType, level: Int) throws(BTFError) {
        let composite: BTFComposite
        let isStruct: Bool
        switch type {
        case .struct(let value):
            composite = value
            isStruct = true
        case .union(let value):
            composite = value
            isStruct = false
        default:
            return
        }
        try nest(id)
        defer { depth -= 1 }
        let structAlignment = try alignment(of: id)
        let packed = isStruct ? try isPacked(id, composite) : false
        let name = typeName(id)
        write(isStruct ? "struct" : "union")
        write(name.isEmpty ? " {" : " \(name) {")

        var end = 0
        var previousWasBitfield = false
        for member in composite.members {
            let bitfieldSize = Int(member.bitfieldSize)
            let offset = Int(member.bitOffset)
            let memberAlignment = packed ? 1 : try alignment(of: member.type)
            try checkPaddingWidth(from: end, to: offset, of: id)
            writePadding(
                from: end, to: offset, nextAlignment: memberAlignment,
                inBitfield: previousWasBitfield && bitfieldSize != 0, level: level + 1)
            output.append(0x0A)
            writeTabs(level + 1)
            try writeDeclaration(of: member.type, name: member.name, level: level + 1)
            if bitfieldSize != 0 {
                write(": \(bitfieldSize)")
                end = offset + bitfieldSize
                previousWasBitfield = true
            } else {
                end = offset + (try byteSize(of: member.type)) * 8
                previousWasBitfield = false
            }
            write(";")
        }
        if isStruct {
            try checkPaddingWidth(from: end, to: Int(composite.size) * 8, of: id)
            writePadding(
                from: end, to: Int(composite.size) * 8, nextAlignment: structAlignment, inBitfield: false,
                level: level + 1)
        }
        if !composite.members.isEmpty || composite.size != 0 {
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

    func writeTabs(_ level: Int) {
        for _ in 0..<level { output.append(0x09) }
    }

    /// Fills the gap between bit `start` and bit `next` with unnamed bitfields, relying on the
    /// compiler's natural alignment where that reproduces the gap and adding `type: 0` marks
    /// where it would not.
    private func writePadding(from start: Int, to next: Int, nextAlignment: Int, inBitfield: Bool, level: Int) {
        guard start < next else { return }
        let paddings: [(name: String, bits: Int)] = [("long", 64), ("int", 32), ("short", 16), ("char", 8)]
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
                output.append(0x0A)
                writeTabs(level)
                write("\(chosen.name): \(inBitfield ? aligned - current : 0);")
            }
            current = aligned
        }
        while current != next {
            let bits = min(next - current, chosen.bits)
            if bits == chosen.bits {
                output.append(0x0A)
                writeTabs(level)
                write("\(chosen.name): \(bits);")
                current += bits
                continue
            }
            for padding in paddings.reversed() where padding.bits >= bits {
                output.append(0x0A)
                writeTabs(level)
                write("\(padding.name): \(bits);")
                current += bits
                break
            }
        }
    }

    // MARK: - Declarators

    /// Writes a declaration of `name` with type `id`: the base type with its qualifiers, then the
    /// declarator built from pointers, arrays and function prototypes, inside out.
    func writeDeclaration(of id: BTFTypeID, name: String, level: Int) throws(BTFError) {
        var chain: [BTFTypeID] = []
        var current = id
        walk: while true {
            if chain.count > Self.maximumNesting {
                throw .invalidType(
                    id: id, offset: spec.recordOffset(id) ?? 0,
                    reason: "declarator nests deeper than \(Self.maximumNesting) levels")
            }
            chain.append(current)
            switch try type(current) {
            case .pointer(let t): current = t.target
            case .volatile(let t), .const(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            case .functionPrototype(let t): current = t.returnType
            case .array(let t): current = t.elementType
            default: break walk
            }
        }
        try writeChain(&chain, name: name, level: level)
    }

    private func isQualifier(_ type: BTFType) -> Bool {
        switch type {
        case .volatile, .const, .restrict, .typeTag: true
        default: false
        }
    }

    /// Writes `const`, `volatile` and `restrict` in front of a base type, taking them off the
    /// chain's end.
    private func writeQualifiers(_ chain: inout [BTFTypeID]) throws(BTFError) {
        while let last = chain.last {
            switch try type(last) {
            case .volatile: write("volatile ")
            case .const: write("const ")
            case .restrict: write("restrict ")
            default: return
            }
            chain.removeLast()
        }
    }

    /// Qualifiers on arrays and function prototypes mean nothing in C (GCC emits them anyway).
    private func dropQualifiers(_ chain: inout [BTFTypeID]) throws(BTFError) {
        while let last = chain.last, isQualifier(try type(last)) {
            chain.removeLast()
        }
    }

    private func writeName(_ name: String, afterPointer: Bool) {
        if !name.isEmpty, !afterPointer { output.append(0x20) }
        write(name)
    }

    /// Writes a chain whose outermost element is first and base type last.
    private func writeChain(_ chain: inout [BTFTypeID], name: String, level: Int) throws(BTFError) {
        var afterPointer = true
        while let id = chain.popLast() {
            let type = try type(id)
            switch type {
            case .void:
                try writeQualifiers(&chain)
                write("void")
            case .int, .float:
                try writeQualifiers(&chain)
                write(type.name)
            case .struct, .union:
                try writeQualifiers(&chain)
                if type.name.isEmpty {
                    try writeComposite(id, type, level: level)
                } else {
                    write(type.kind == .union ? "union " : "struct ")
                    write(typeName(id))
                }
            case .enum, .enum64:
                try writeQualifiers(&chain)
                if type.name.isEmpty {
                    try writeEnum(id, type, level: level)
                } else {
                    write("enum " + typeName(id))
                }
            case .forward(let forward):
                try writeQualifiers(&chain)
                write((forward.isUnion ? "union " : "struct ") + typeName(id))
            case .typedef:
                try writeQualifiers(&chain)
                write(identifierName(id))
            case .pointer:
                write(afterPointer ? "*" : " *")
            case .volatile:
                write(" volatile")
            case .const:
                write(" const")
            case .restrict:
                write(" restrict")
            case .typeTag(let tag):
                try writeQualifiers(&chain)
                write(" __attribute__((btf_type_tag(\"\(tag.name)\")))")
            case .array(let array):
                try dropQualifiers(&chain)
                guard let next = chain.last else {
                    writeName(name, afterPointer: afterPointer)
                    write("[\(array.count)]")
                    return
                }
                let multidimensional = try self.type(next).kind == .array
                if !name.isEmpty, !afterPointer { output.append(0x20) }
                if !multidimensional { write("(") }
                try writeChain(&chain, name: name, level: level)
                if !multidimensional { write(")") }
                write("[\(array.count)]")
                return
            case .functionPrototype(let prototype):
                try dropQualifiers(&chain)
                if chain.isEmpty {
                    writeName(name, afterPointer: afterPointer)
                } else {
                    write(" (")
                    try writeChain(&chain, name: name, level: level)
                    write(")")
                }
                write("(")
                let parameters = prototype.parameters
                if parameters.isEmpty || (parameters.count == 1 && parameters[0].type == .void) {
                    write("void)")
                    return
                }
                for (position, parameter) in parameters.enumerated() {
                    if position > 0 { write(", ") }
                    if position == parameters.count - 1, parameter.type == .void {
                        write("...")
                        break
                    }
                    try writeDeclaration(of: parameter.type, name: parameter.name, level: level)
                }
                write(")")
                return
            case .function, .variable, .dataSection, .declarationTag:
                // Not part of a type expression; nothing sensible to print.
                break
            }
            afterPointer = type.kind == .pointer
        }
        writeName(name, afterPointer: afterPointer)
    }
}
