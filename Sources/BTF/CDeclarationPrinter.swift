import Glibc

/// Turns a spec's types into C declarations ordered so that the result compiles: every type is
/// defined before something embeds it by value, and a forward declaration stands in where a type
/// is only reached through a pointer.
///
/// The output follows the conventions of libbpf's BTF-to-C dumper (the one behind
/// `bpftool btf dump file FILE format c`) closely enough to be a drop-in for it: the same order,
/// the same `___N` suffixes for clashing names, the same explicit padding fields, the same
/// `packed` detection. The algorithm is our own; it was written from the behaviour described in
/// libbpf's documentation and observed in its output.
///
/// The printer reads the type records in place (``BTFRecord``) and copies names straight from the
/// string section into the output, so printing all of vmlinux decodes no type and makes no Swift
/// string of any name; with a sink the output leaves in chunks instead of growing to the whole
/// header.
final class CDeclarationPrinter {
    /// Work on a type graph nests through declarations (pointers to pointers, arrays of
    /// function pointers, structs in structs); real BTF stays far below this, hostile BTF does not.
    static let maximumNesting = 512

    private enum OrderState: UInt8 { case unordered, ordering, ordered }
    private enum EmitState: UInt8 { case notEmitted, emitting, emitted }

    /// A name in a declaration: a string of the spec, with the `___N` suffix of a renamed type
    /// (`suffix` 0 for none).
    struct DeclaredName {
        var offset: UInt32
        var suffix: UInt32 = 0
    }

    // The mutable state below is only ever touched by this printer, from one thread, one access at
    // a time: dynamic exclusivity checks on it took 40% of printing vmlinux.
    let spec: BTFSpec
    /// One past the last type id, counting the base's types.
    let typeCount: Int
    private let ownTypes: UnsafeRawPointer
    private let ownOffsets: [UInt32]
    private let ownFirst: Int
    private let bigEndian: Bool

    @exclusivity(unchecked) private var orderState: [OrderState]
    @exclusivity(unchecked) private var emitState: [EmitState]
    @exclusivity(unchecked) private var forwardEmitted: [Bool]
    @exclusivity(unchecked) private var referenced: [Bool]
    /// Per type: `unresolvedName`, 0 for a name printed as it is, or the `N` of its `___N` suffix.
    @exclusivity(unchecked) private var nameSuffixes: [UInt32]
    private static let unresolvedName = UInt32.max
    /// Per type: its alignment once known, -1 before.
    @exclusivity(unchecked) var alignments: [Int8]
    @exclusivity(unchecked) private var typeNameUses = NameUseCounter()
    @exclusivity(unchecked) private var identifierNameUses = NameUseCounter(capacity: 1 << 14)
    @exclusivity(unchecked) private var emitQueue: [BTFTypeID] = []
    /// The declarator chains being written, innermost declaration last (see `writeDeclaration`).
    @exclusivity(unchecked) var chain: [BTFTypeID] = []
    @exclusivity(unchecked) var depth = 0
    @exclusivity(unchecked) var output: [UInt8] = []
    /// Where full chunks of output go; without one, `output` collects everything.
    private let sink: ((UnsafeRawBufferPointer) -> Void)?
    private static let chunkSize = 1 << 16

    init(spec: BTFSpec, sink: ((UnsafeRawBufferPointer) -> Void)? = nil) throws(BTFError) {
        try spec.validateForPrinting()
        self.spec = spec
        self.sink = sink
        let count = Int(spec.typeCount)
        typeCount = count
        ownTypes = UnsafeRawPointer(spec.storage.base) + spec.typeSectionStart
        ownOffsets = spec.offsets
        ownFirst = Int(spec.firstTypeID.rawValue)
        bigEndian = spec.byteOrder == .bigEndian
        orderState = Array(repeating: .unordered, count: count)
        emitState = Array(repeating: .notEmitted, count: count)
        forwardEmitted = Array(repeating: false, count: count)
        referenced = Array(repeating: false, count: count)
        nameSuffixes = Array(repeating: Self.unresolvedName, count: count)
        alignments = Array(repeating: -1, count: count)
        output.reserveCapacity(sink == nil ? count * 40 : Self.chunkSize * 2)
        var id: UInt32 = 1
        while Int(id) < count {
            let type = try record(BTFTypeID(id))
            for index in 0..<type.referenceCount {
                let target = Int(type.reference(at: index).rawValue)
                if target < count { referenced[target] = true }
            }
            id &+= 1
        }
    }

    // MARK: - Whole header

    /// Writes the `vmlinux.h`-style header: guard, attribute block, every type, closing block.
    func writeHeader() throws(BTFError) {
        write("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n")
        write("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n")
        write("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n")
        write("#endif\n\n")
        var id: UInt32 = 1
        while Int(id) < typeCount {
            try writeDeclarations(of: BTFTypeID(id))
            id &+= 1
        }
        write("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n")
        write("#endif /* __VMLINUX_H__ */\n")
        flush()
    }

    /// Writes the definition of `id` and whatever it needs that was not written yet.
    func writeDeclarations(of id: BTFTypeID) throws(BTFError) {
        emitQueue.removeAll(keepingCapacity: true)
        _ = try order(id, throughPointer: false)
        let queue = emitQueue
        for queued in queue {
            try emit(queued, container: .void)
            if sink != nil, output.count >= Self.chunkSize { flush() }
        }
    }

    /// Hands what is in `output` to the sink, if there is one.
    func flush() {
        guard let sink, !output.isEmpty else { return }
        output.withUnsafeBytes { sink($0) }
        output.removeAll(keepingCapacity: true)
    }

    // MARK: - Records and names

    /// The record of type `id`, read in place.
    @inline(__always)
    func record(_ id: BTFTypeID) throws(BTFError) -> BTFRecord {
        let raw = Int(id.rawValue)
        if raw == 0 { return .void }
        let index = raw &- ownFirst
        guard index >= 0 else { return try baseRecord(id) }
        guard index < ownOffsets.count else { throw .noSuchType(id) }
        return BTFRecord(start: ownTypes + Int(ownOffsets[index]), bigEndian: bigEndian)
    }

    /// The record of a type of the base (for split BTF).
    private func baseRecord(_ id: BTFTypeID) throws(BTFError) -> BTFRecord {
        var current = spec.base
        while let base = current {
            if let offset = base.recordOffset(id) {
                return BTFRecord(start: UnsafeRawPointer(base.storage.base) + offset, bigEndian: base.byteOrder == .bigEndian)
            }
            current = base.base
        }
        throw .noSuchType(id)
    }

    /// The string at `offset`; the empty string for offsets past the strings, which
    /// `validateForPrinting` rules out.
    @inline(__always)
    func cString(_ offset: UInt32) -> UnsafePointer<CChar> {
        spec.cString(at: offset) ?? BTFRecordStrings.empty
    }

    @inline(__always)
    func isEmptyName(_ offset: UInt32) -> Bool { offset == 0 || cString(offset).pointee == 0 }

    func isEmpty(_ name: DeclaredName) -> Bool { isEmptyName(name.offset) }

    func nameEquals(_ offset: UInt32, _ text: StaticString) -> Bool {
        strcmp(cString(offset), UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)) == 0
    }

    // MARK: - Writing

    @inline(__always)
    func write(_ text: StaticString) {
        output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Writes the spec's string at `offset`.
    @inline(__always)
    func writeString(_ offset: UInt32) {
        let string = cString(offset)
        let length = strlen(string)
        output.append(contentsOf: UnsafeRawBufferPointer(start: string, count: length))
    }

    func writeName(_ name: DeclaredName) {
        writeString(name.offset)
        if name.suffix > 1 {
            write("___")
            writeDecimal(UInt64(name.suffix))
        }
    }

    func writeDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var position = buffer.count
            repeat {
                position -= 1
                buffer[position] = UInt8(truncatingIfNeeded: remaining % 10) &+ 0x30
                remaining /= 10
            } while remaining != 0
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }

    func writeDecimal(_ value: Int64) {
        if value < 0 { output.append(0x2D) }
        writeDecimal(value.magnitude)
    }

    func writeDecimal(_ value: Int) { writeDecimal(Int64(value)) }

    func writeTabs(_ level: Int) {
        for _ in 0..<level { output.append(0x09) }
    }

    func nest(_ id: BTFTypeID) throws(BTFError) {
        depth += 1
        if depth > Self.maximumNesting {
            throw .invalidType(
                id: id, offset: spec.recordOffset(id) ?? 0,
                reason: "declaration nests deeper than \(Self.maximumNesting) levels")
        }
    }

    @inline(__always)
    private func checkedIndex(_ id: BTFTypeID) throws(BTFError) -> Int {
        let index = Int(id.rawValue)
        guard index < typeCount else { throw .noSuchType(id) }
        return index
    }

    // MARK: - Ordering

    /// Puts the named definitions `id` depends on by value into the emit queue, dependencies
    /// first. Returns whether `id` was fully defined (a "strong" link) rather than only reachable
    /// through a pointer, which a forward declaration satisfies.
    private func order(_ id: BTFTypeID, throughPointer: Bool) throws(BTFError) -> Bool {
        let index = try checkedIndex(id)
        if orderState[index] == .ordered { return true }
        try nest(id)
        defer { depth -= 1 }
        let type = try record(id)
        let kind = type.kind
        if orderState[index] == .ordering {
            if kind == BTFKind.struct.rawValue || kind == BTFKind.union.rawValue, throughPointer,
                !isEmptyName(type.nameOffset)
            {
                return false
            }
            throw .referenceCycle(id: id, offset: spec.recordOffset(id) ?? 0)
        }
        switch kind {
        case 0:  // void
            return false
        case 1, 16:  // int, float
            orderState[index] = .ordered
            return false
        case 2:  // pointer
            let strong = try order(type.referencedType, throughPointer: true)
            orderState[index] = .ordered
            return strong
        case 3:  // array
            return try order(type.arrayElementType, throughPointer: false)
        case 4, 5:  // struct, union
            let named = !isEmptyName(type.nameOffset)
            if throughPointer, named { return false }
            orderState[index] = .ordering
            for member in 0..<type.vlen {
                _ = try order(type.memberType(member), throughPointer: false)
            }
            if named { emitQueue.append(id) }
            orderState[index] = .ordered
            return true
        case 6, 19, 7:  // enum, enum64, forward
            if !isEmptyName(type.nameOffset) || !referenced[index] { emitQueue.append(id) }
            orderState[index] = .ordered
            return true
        case 8:  // typedef
            let strong = try order(type.referencedType, throughPointer: throughPointer)
            if throughPointer, !strong { return false }
            emitQueue.append(id)
            orderState[index] = .ordered
            return true
        case 9, 10, 11, 18:  // volatile, const, restrict, type tag
            return try order(type.referencedType, throughPointer: throughPointer)
        case 13:  // function prototype
            var strong = try order(type.referencedType, throughPointer: throughPointer)
            for parameter in 0..<type.vlen {
                if try order(type.parameterType(parameter), throughPointer: throughPointer) { strong = true }
            }
            return strong
        default:  // function, variable, data section, declaration tag
            orderState[index] = .ordered
            return false
        }
    }

    // MARK: - Emitting

    /// Writes the definition of `id` after the forward declarations and definitions its members
    /// need. `container` is the named struct or union being defined around it (void at the top).
    private func emit(_ id: BTFTypeID, container: BTFTypeID) throws(BTFError) {
        let index = try checkedIndex(id)
        if emitState[index] == .emitted { return }
        try nest(id)
        defer { depth -= 1 }
        let type = try record(id)
        let kind = type.kind
        let topLevel = container == .void

        if emitState[index] == .emitting {
            if forwardEmitted[index] { return }
            switch kind {
            case 4, 5:
                // A member referring to the struct it is part of needs no forward declaration.
                if id == container { return }
                if isEmptyName(type.nameOffset) { return }
                writeStructForward(id, type)
                write(";\n\n")
                forwardEmitted[index] = true
            case 8:
                if !isBuiltinTypedef(type.nameOffset) {
                    try writeTypedef(id, type, level: 0)
                    write(";\n\n")
                }
                forwardEmitted[index] = true
            default:
                break
            }
            return
        }

        switch kind {
        case 1:  // int
            writeMissingAlias(type.nameOffset)
            emitState[index] = .emitted
        case 6, 19:  // enum, enum64
            if topLevel {
                try writeEnum(id, type, level: 0)
                write(";\n\n")
            }
            emitState[index] = .emitted
        case 2, 9, 10, 11, 18:  // pointer, qualifiers, type tag
            try emit(type.referencedType, container: container)
        case 3:
            try emit(type.arrayElementType, container: container)
        case 7:
            writeForward(id, type)
            write(";\n\n")
            emitState[index] = .emitted
        case 8:
            emitState[index] = .emitting
            try emit(type.referencedType, container: id)
            if !forwardEmitted[index], !isBuiltinTypedef(type.nameOffset) {
                try writeTypedef(id, type, level: 0)
                write(";\n\n")
            }
            emitState[index] = .emitted
        case 4, 5:
            emitState[index] = .emitting
            let named = !isEmptyName(type.nameOffset)
            if topLevel || !named {
                let memberContainer = named ? id : container
                for member in 0..<type.vlen {
                    try emit(type.memberType(member), container: memberContainer)
                }
            } else if !forwardEmitted[index], id != container {
                writeStructForward(id, type)
                write(";\n\n")
                forwardEmitted[index] = true
            }
            if topLevel {
                try writeComposite(id, type, level: 0)
                write(";\n\n")
                emitState[index] = .emitted
            } else {
                emitState[index] = .notEmitted
            }
        case 13:
            try emit(type.referencedType, container: container)
            for parameter in 0..<type.vlen {
                try emit(type.parameterType(parameter), container: container)
            }
        default:  // void, float, function, variable, data section, declaration tag
            break
        }
    }

    /// `__builtin_va_list` is the compiler's own; declaring it again breaks compilation.
    private func isBuiltinTypedef(_ name: UInt32) -> Bool { nameEquals(name, "__builtin_va_list") }

    /// Integer types that only some compilers know (Arm's polynomial types) get a typedef to a
    /// type every compiler knows.
    private func writeMissingAlias(_ name: UInt32) {
        let replacement: StaticString
        if nameEquals(name, "__Poly8_t") {
            replacement = "unsigned char"
        } else if nameEquals(name, "__Poly16_t") {
            replacement = "unsigned short"
        } else if nameEquals(name, "__Poly64_t") {
            replacement = "unsigned long long"
        } else if nameEquals(name, "__Poly128_t") {
            replacement = "unsigned __int128"
        } else {
            return
        }
        write("typedef ")
        write(replacement)
        write(" ")
        writeString(name)
        write(";\n\n")
    }

    // MARK: - Names

    /// The name a struct, union or enum is printed under: its own, or with `___N` appended when an
    /// earlier type of that namespace took it.
    func typeName(_ id: BTFTypeID) -> DeclaredName { resolveName(id, identifiers: false) }

    /// The name a typedef is printed under (typedefs share a namespace with enumerators).
    func identifierName(_ id: BTFTypeID) -> DeclaredName { resolveName(id, identifiers: true) }

    /// `name` as it is printed, as a string (for tests and messages).
    func string(of name: DeclaredName) -> String {
        let base = String(cString: cString(name.offset))
        return name.suffix > 1 ? "\(base)___\(name.suffix)" : base
    }

    private func resolveName(_ id: BTFTypeID, identifiers: Bool) -> DeclaredName {
        let index = Int(id.rawValue)
        guard index < typeCount, let type = try? record(id) else { return DeclaredName(offset: 0) }
        let original = type.nameOffset
        if isEmptyName(original) { return DeclaredName(offset: original) }
        let known = nameSuffixes[index]
        if known != Self.unresolvedName { return DeclaredName(offset: original, suffix: known) }
        nameSuffixes[index] = 0
        let kind = type.kind
        // Forward declarations and enums without values are never renamed.
        if kind == BTFKind.forward.rawValue
            || ((kind == BTFKind.enum.rawValue || kind == BTFKind.enum64.rawValue) && type.vlen == 0)
        {
            return DeclaredName(offset: original)
        }
        let count = countUse(of: original, identifiers: identifiers)
        if count > 1 {
            nameSuffixes[index] = count
            return DeclaredName(offset: original, suffix: count)
        }
        return DeclaredName(offset: original)
    }

    private func countUse(of name: UInt32, identifiers: Bool) -> UInt32 {
        identifiers
            ? identifierNameUses.countUse(of: name, in: spec) : typeNameUses.countUse(of: name, in: spec)
    }

    // MARK: - Simple definitions

    private func writeStructForward(_ id: BTFTypeID, _ type: BTFRecord) {
        write(type.kind == BTFKind.union.rawValue ? "union" : "struct")
        let name = typeName(id)
        if !isEmpty(name) {
            write(" ")
            writeName(name)
        }
    }

    private func writeForward(_ id: BTFTypeID, _ type: BTFRecord) {
        write(type.kindFlag ? "union " : "struct ")
        writeName(typeName(id))
    }

    private func writeTypedef(_ id: BTFTypeID, _ type: BTFRecord, level: Int) throws(BTFError) {
        let name = identifierName(id)
        // Old GCC describes __gnuc_va_list as a typedef of void, which no compiler accepts back.
        if type.referencedType == .void, name.suffix <= 1, nameEquals(name.offset, "__gnuc_va_list") {
            write("typedef __builtin_va_list __gnuc_va_list")
            return
        }
        write("typedef ")
        try writeDeclaration(of: type.referencedType, name: name, level: level)
    }

    func writeEnum(_ id: BTFTypeID, _ type: BTFRecord, level: Int) throws(BTFError) {
        let kind = type.kind
        guard kind == BTFKind.enum.rawValue || kind == BTFKind.enum64.rawValue else { return }
        let is64 = kind == BTFKind.enum64.rawValue
        let isSigned = type.kindFlag
        let name = typeName(id)
        write("enum")
        if !isEmpty(name) {
            write(" ")
            writeName(name)
        }
        let count = type.vlen
        if count == 0 { return }
        write(" {")
        var fitsIn32 = true
        for value in 0..<count {
            output.append(0x0A)
            writeTabs(level + 1)
            let nameOffset = type.enumValueNameOffset(value, is64: is64)
            let uses = countUse(of: nameOffset, identifiers: true)
            writeString(nameOffset)
            if uses > 1 {
                write("___")
                writeDecimal(UInt64(uses))
            }
            write(" = ")
            let low = type.enumValueLow(value, is64: is64)
            if is64 {
                let high = type.enumValueHigh(value)
                if high != 0 { fitsIn32 = false }
                let combined = UInt64(high) << 32 | UInt64(low)
                if isSigned {
                    writeDecimal(Int64(bitPattern: combined))
                    write("LL,")
                } else {
                    writeDecimal(combined)
                    write("ULL,")
                }
            } else if isSigned {
                writeDecimal(Int64(Int32(bitPattern: low)))
                write(",")
            } else {
                writeDecimal(UInt64(low))
                write(",")
            }
        }
        output.append(0x0A)
        writeTabs(level)
        write("}")
        // C makes an enum as large as int unless told otherwise; BTF knows the real size. Newer
        // libbpf (1.2 and later) writes the same attributes.
        if type.size == 1 {
            write(" __attribute__((mode(byte)))")
        } else if type.size == 8 {
            // A 32-bit enum cannot be 8 bytes, and an enum64 whose values all fit in 32 bits
            // would shrink to 4 bytes: `mode(word)` keeps the size.
            if fitsIn32 { write(" __attribute__((mode(word)))") }
        }
    }
}

extension BTFSpec {
    /// Checks what the C printer relies on without decoding anything: every type reference in
    /// range, every member, enumerator and parameter name a string, no cycle of value references.
    func validateForPrinting() throws(BTFError) {
        try base?.validateForPrinting()
        let limit = typeCount
        let types = UnsafeRawPointer(storage.base) + typeSectionStart
        let bigEndian = byteOrder == .bigEndian
        var id = firstTypeID
        for offset in offsets {
            let record = BTFRecord(start: types + Int(offset), bigEndian: bigEndian)
            let recordOffset = typeSectionStart &+ Int(offset)
            for index in 0..<record.referenceCount {
                let target = record.reference(at: index)
                guard target.rawValue < limit else {
                    throw .typeIDOutOfRange(id: id, offset: recordOffset, referenced: target, typeCount: limit)
                }
            }
            for index in 0..<record.nestedNameCount {
                let name = record.nestedNameOffset(index)
                guard containsString(at: name) else {
                    throw .stringOffsetOutOfRange(
                        id: id, offset: recordOffset, stringOffset: name, stringSectionLength: totalStringLength)
                }
            }
            id.rawValue &+= 1
        }
        switch byteOrder {
        case .littleEndian: try checkForValueCycles(LittleEndianWords.self)
        case .bigEndian: try checkForValueCycles(BigEndianWords.self)
        }
    }
}
