/// Turns a decoded type graph into C declarations ordered so that the result compiles: every type
/// is defined before something embeds it by value, and a forward declaration stands in where a
/// type is only reached through a pointer.
///
/// The output follows the conventions of libbpf's BTF-to-C dumper (the one behind
/// `bpftool btf dump file FILE format c`) closely enough to be a drop-in for it: the same order,
/// the same `___N` suffixes for clashing names, the same explicit padding fields, the same
/// `packed` detection. The algorithm is our own; it was written from the behaviour described in
/// libbpf's documentation and observed in its output.
final class CDeclarationPrinter {
    /// Work on a type graph nests through declarations (pointers to pointers, arrays of
    /// function pointers, structs in structs); real BTF stays far below this, hostile BTF does not.
    static let maximumNesting = 512

    private enum OrderState: UInt8 { case unordered, ordering, ordered }
    private enum EmitState: UInt8 { case notEmitted, emitting, emitted }

    let spec: BTFSpec
    let types: [BTFType]
    private var orderState: [OrderState]
    private var emitState: [EmitState]
    private var forwardEmitted: [Bool]
    private var referenced: [Bool]
    private var resolvedNames: [String?]
    private var nameResolved: [Bool]
    var alignments: [Int32]
    private var typeNameCounts: [String: Int] = [:]
    private var identifierNameCounts: [String: Int] = [:]
    private var emitQueue: [BTFTypeID] = []
    var depth = 0
    var output: [UInt8] = []

    init(spec: BTFSpec) throws(BTFError) {
        self.spec = spec
        types = try spec.typeGraph().types
        let count = types.count
        orderState = Array(repeating: .unordered, count: count)
        emitState = Array(repeating: .notEmitted, count: count)
        forwardEmitted = Array(repeating: false, count: count)
        referenced = Array(repeating: false, count: count)
        resolvedNames = Array(repeating: nil, count: count)
        nameResolved = Array(repeating: false, count: count)
        alignments = Array(repeating: -1, count: count)
        output.reserveCapacity(count * 40)
        for type in types {
            for index in 0..<type.referenceCount {
                if let target = type.reference(at: index), Int(target.rawValue) < count {
                    referenced[Int(target.rawValue)] = true
                }
            }
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
        while Int(id) < types.count {
            try writeDeclarations(of: BTFTypeID(id))
            id &+= 1
        }
        write("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n")
        write("#endif /* __VMLINUX_H__ */\n")
    }

    /// Writes the definition of `id` and whatever it needs that was not written yet.
    func writeDeclarations(of id: BTFTypeID) throws(BTFError) {
        emitQueue.removeAll(keepingCapacity: true)
        _ = try order(id, throughPointer: false)
        let queue = emitQueue
        for queued in queue {
            try emit(queued, container: .void)
        }
    }

    // MARK: - Helpers

    @inline(__always)
    func write(_ text: String) {
        var text = text
        text.withUTF8 { output.append(contentsOf: $0) }
    }

    private func indent(_ level: Int) {
        for _ in 0..<level { output.append(0x09) }
    }

    func type(_ id: BTFTypeID) throws(BTFError) -> BTFType {
        let index = Int(id.rawValue)
        guard index < types.count else { throw .noSuchType(id) }
        return types[index]
    }

    func nest(_ id: BTFTypeID) throws(BTFError) {
        depth += 1
        if depth > Self.maximumNesting {
            throw .invalidType(
                id: id, offset: spec.recordOffset(id) ?? 0,
                reason: "declaration nests deeper than \(Self.maximumNesting) levels")
        }
    }

    private func isNamed(_ id: BTFTypeID) -> Bool { !types[Int(id.rawValue)].name.isEmpty }

    // MARK: - Ordering

    /// Puts the named definitions `id` depends on by value into the emit queue, dependencies
    /// first. Returns whether `id` was fully defined (a "strong" link) rather than only reachable
    /// through a pointer, which a forward declaration satisfies.
    private func order(_ id: BTFTypeID, throughPointer: Bool) throws(BTFError) -> Bool {
        let index = Int(id.rawValue)
        if orderState[index] == .ordered { return true }
        try nest(id)
        defer { depth -= 1 }
        let type = try type(id)
        if orderState[index] == .ordering {
            switch type {
            case .struct, .union:
                if throughPointer, !type.name.isEmpty { return false }
            default: break
            }
            throw .referenceCycle(id: id, offset: spec.recordOffset(id) ?? 0)
        }
        switch type {
        case .void:
            return false
        case .int, .float:
            orderState[index] = .ordered
            return false
        case .pointer(let pointer):
            let strong = try order(pointer.target, throughPointer: true)
            orderState[index] = .ordered
            return strong
        case .array(let array):
            return try order(array.elementType, throughPointer: false)
        case .struct(let composite), .union(let composite):
            if throughPointer, !composite.name.isEmpty { return false }
            orderState[index] = .ordering
            for member in composite.members {
                _ = try order(member.type, throughPointer: false)
            }
            if !composite.name.isEmpty { emitQueue.append(id) }
            orderState[index] = .ordered
            return true
        case .enum, .enum64, .forward:
            if !type.name.isEmpty || !referenced[index] { emitQueue.append(id) }
            orderState[index] = .ordered
            return true
        case .typedef(let typedef):
            let strong = try order(typedef.type, throughPointer: throughPointer)
            if throughPointer, !strong { return false }
            emitQueue.append(id)
            orderState[index] = .ordered
            return true
        case .volatile(let qualifier), .const(let qualifier), .restrict(let qualifier):
            return try order(qualifier.type, throughPointer: throughPointer)
        case .typeTag(let tag):
            return try order(tag.type, throughPointer: throughPointer)
        case .functionPrototype(let prototype):
            var strong = try order(prototype.returnType, throughPointer: throughPointer)
            for parameter in prototype.parameters {
                if try order(parameter.type, throughPointer: throughPointer) { strong = true }
            }
            return strong
        case .function, .variable, .dataSection, .declarationTag:
            orderState[index] = .ordered
            return false
        }
    }

    // MARK: - Emitting

    /// Writes the definition of `id` after the forward declarations and definitions its members
    /// need. `container` is the named struct or union being defined around it (void at the top).
    private func emit(_ id: BTFTypeID, container: BTFTypeID) throws(BTFError) {
        let index = Int(id.rawValue)
        if emitState[index] == .emitted { return }
        try nest(id)
        defer { depth -= 1 }
        let type = try type(id)
        let topLevel = container == .void

        if emitState[index] == .emitting {
            if forwardEmitted[index] { return }
            switch type {
            case .struct, .union:
                // A member referring to the struct it is part of needs no forward declaration.
                if id == container { return }
                if type.name.isEmpty { return }
                try writeStructForward(id, type)
                write(";\n\n")
                forwardEmitted[index] = true
            case .typedef(let typedef):
                if !isBuiltinTypedef(type.name) {
                    try writeTypedef(id, typedef, level: 0)
                    write(";\n\n")
                }
                forwardEmitted[index] = true
            default:
                break
            }
            return
        }

        switch type {
        case .int(let integer):
            writeMissingAlias(integer.name)
            emitState[index] = .emitted
        case .enum, .enum64:
            if topLevel {
                try writeEnum(id, type, level: 0)
                write(";\n\n")
            }
            emitState[index] = .emitted
        case .pointer(let pointer):
            try emit(pointer.target, container: container)
        case .volatile(let qualifier), .const(let qualifier), .restrict(let qualifier):
            try emit(qualifier.type, container: container)
        case .typeTag(let tag):
            try emit(tag.type, container: container)
        case .array(let array):
            try emit(array.elementType, container: container)
        case .forward(let forward):
            writeForward(id, forward)
            write(";\n\n")
            emitState[index] = .emitted
        case .typedef(let typedef):
            emitState[index] = .emitting
            try emit(typedef.type, container: id)
            if !forwardEmitted[index], !isBuiltinTypedef(typedef.name) {
                try writeTypedef(id, typedef, level: 0)
                write(";\n\n")
            }
            emitState[index] = .emitted
        case .struct(let composite), .union(let composite):
            emitState[index] = .emitting
            if topLevel || composite.name.isEmpty {
                let memberContainer = composite.name.isEmpty ? container : id
                for member in composite.members {
                    try emit(member.type, container: memberContainer)
                }
            } else if !forwardEmitted[index], id != container {
                try writeStructForward(id, type)
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
        case .functionPrototype(let prototype):
            try emit(prototype.returnType, container: container)
            for parameter in prototype.parameters {
                try emit(parameter.type, container: container)
            }
        case .void, .float, .function, .variable, .dataSection, .declarationTag:
            break
        }
    }

    /// `__builtin_va_list` is the compiler's own; declaring it again breaks compilation.
    private func isBuiltinTypedef(_ name: String) -> Bool { name == "__builtin_va_list" }

    /// Integer types that only some compilers know (Arm's polynomial types) get a typedef to a
    /// type every compiler knows.
    private func writeMissingAlias(_ name: String) {
        let replacement: String
        switch name {
        case "__Poly8_t": replacement = "unsigned char"
        case "__Poly16_t": replacement = "unsigned short"
        case "__Poly64_t": replacement = "unsigned long long"
        case "__Poly128_t": replacement = "unsigned __int128"
        default: return
        }
        write("typedef \(replacement) \(name);\n\n")
    }

    // MARK: - Names

    /// The name a struct, union or enum is printed under: its own, or with `___N` appended when an
    /// earlier type of that namespace took it.
    func typeName(_ id: BTFTypeID) -> String { resolveName(id, identifiers: false) }

    /// The name a typedef is printed under (typedefs share a namespace with enumerators).
    func identifierName(_ id: BTFTypeID) -> String { resolveName(id, identifiers: true) }

    private func resolveName(_ id: BTFTypeID, identifiers: Bool) -> String {
        let index = Int(id.rawValue)
        let type = types[index]
        let original = type.name
        if original.isEmpty { return "" }
        if nameResolved[index] { return resolvedNames[index] ?? original }
        nameResolved[index] = true
        switch type {
        case .forward: return original
        case .enum(let enumeration) where enumeration.values.isEmpty: return original
        case .enum64(let enumeration) where enumeration.values.isEmpty: return original
        default: break
        }
        let count = countUse(of: original, identifiers: identifiers)
        if count > 1 {
            let renamed = "\(original)___\(count)"
            resolvedNames[index] = renamed
            return renamed
        }
        return original
    }

    private func countUse(of name: String, identifiers: Bool) -> Int {
        if identifiers {
            let count = (identifierNameCounts[name] ?? 0) + 1
            identifierNameCounts[name] = count
            return count
        }
        let count = (typeNameCounts[name] ?? 0) + 1
        typeNameCounts[name] = count
        return count
    }

    // MARK: - Simple definitions

    private func writeStructForward(_ id: BTFTypeID, _ type: BTFType) throws(BTFError) {
        let keyword = type.kind == .union ? "union" : "struct"
        let name = typeName(id)
        write(name.isEmpty ? keyword : "\(keyword) \(name)")
    }

    private func writeForward(_ id: BTFTypeID, _ forward: BTFForward) {
        write((forward.isUnion ? "union " : "struct ") + typeName(id))
    }

    private func writeTypedef(_ id: BTFTypeID, _ typedef: BTFTypedef, level: Int) throws(BTFError) {
        let name = identifierName(id)
        // Old GCC describes __gnuc_va_list as a typedef of void, which no compiler accepts back.
        if typedef.type == .void, name == "__gnuc_va_list" {
            write("typedef __builtin_va_list __gnuc_va_list")
            return
        }
        write("typedef ")
        try writeDeclaration(of: typedef.type, name: name, level: level)
    }

    func writeEnum(_ id: BTFTypeID, _ type: BTFType, level: Int) throws(BTFError) {
        let enumeration: BTFEnum
        let is64: Bool
        switch type {
        case .enum(let value):
            enumeration = value
            is64 = false
        case .enum64(let value):
            enumeration = value
            is64 = true
        default:
            return
        }
        let name = typeName(id)
        write(name.isEmpty ? "enum" : "enum \(name)")
        if enumeration.values.isEmpty { return }
        write(" {")
        for value in enumeration.values {
            output.append(0x0A)
            indent(level + 1)
            let count = countUse(of: value.name, identifiers: true)
            write(count > 1 ? "\(value.name)___\(count) = " : "\(value.name) = ")
            if is64 {
                write(enumeration.isSigned ? "\(value.signedValue)LL," : "\(value.value)ULL,")
            } else {
                let low = UInt32(truncatingIfNeeded: value.value)
                write(enumeration.isSigned ? "\(Int32(bitPattern: low))," : "\(low),")
            }
        }
        output.append(0x0A)
        indent(level)
        write("}")
        // C makes an enum as large as int unless told otherwise; BTF knows the real size. Newer
        // libbpf (1.2 and later) writes the same attributes.
        if enumeration.size == 1 {
            write(" __attribute__((mode(byte)))")
        } else if enumeration.size == 8 {
            // A 32-bit enum cannot be 8 bytes, and an enum64 whose values all fit in 32 bits
            // would shrink to 4 bytes: `mode(word)` keeps the size.
            let fitsIn32 = !is64 || enumeration.values.allSatisfy { $0.value >> 32 == 0 }
            if fitsIn32 { write(" __attribute__((mode(word)))") }
        }
    }
}
