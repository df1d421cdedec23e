import EBPF

/// One compiled object to embed: its bytes and the byte order it was compiled for.
struct EmbeddedObject {
    var littleEndian: Bool
    var bytes: [UInt8]
}

/// Writes the Swift file for one BPF object: the `<Ident>Objects` family, the loader functions,
/// the embedded object bytes and the C types of map keys and values.
struct CodeGenerator {
    var identifier: String
    /// The source as named on the command line, for comments.
    var sourceName: String
    /// The command that regenerates the file, for its header.
    var command: [String]
    /// The spec of one of the objects (all byte orders describe the same programs, maps and types).
    var spec: CollectionSpec
    var objects: [EmbeddedObject]
    /// C types to declare in addition to those of map keys and values.
    var extraTypes: [String] = []

    /// What generation renamed, to report on standard error.
    private(set) var renamings: [NameTable.Renaming] = []

    /// `Ident` with a capital first letter, the prefix of the generated type names.
    var typePrefix: String { SwiftNames.uppercasedFirst(identifier) }

    struct Symbol {
        var cName: String
        var swiftName: String
        var documentation: String
    }

    // MARK: - Symbols

    /// Maps are the spec's maps except the data sections (`.rodata`, `.bss`, ...), which the
    /// variables stand for.
    static func isInternal(_ name: String) -> Bool { name.hasPrefix(".") }

    /// Variables the compiler named rather than the user: a `static` inside a function is
    /// `function.name` (`handle_tp.____fmt`, the format string of `bpf_printk`), local labels
    /// start with `.L`. They stay in the object (its programs use them) but get no Swift
    /// property, as libbpf's skeletons leave them out.
    static func isCompilerGenerated(_ name: String) -> Bool { name.contains(".") }

    /// Names every member of the generated `Objects` type may not take.
    static let reservedNames: Set<String> = [
        "programs", "maps", "variables", "close", "init", "programNames", "mapNames", "variableNames",
        "self", "Type", "Protocol", "attachAll",
    ]

    mutating func symbols() throws(BPF2SwiftError) -> (programs: [Symbol], maps: [Symbol], variables: [Symbol]) {
        // One scope for all three kinds: `<Ident>Objects` forwards each of them by name.
        var table = NameTable(reserved: Self.reservedNames)
        var programs: [Symbol] = []
        for name in spec.programs.keys.sorted() {
            guard let program = spec.programs[name] else { continue }
            let swiftName = table.assign(cName: name, kind: "program", suffix: "Program")
            programs.append(Symbol(
                cName: name, swiftName: swiftName,
                documentation: "The program `\(name)` (`SEC(\"\(program.sectionName)\")`, a \(program.type) program)."))
        }
        var maps: [Symbol] = []
        for name in spec.maps.keys.sorted() where !Self.isInternal(name) {
            guard let map = spec.maps[name] else { continue }
            let swiftName = table.assign(cName: name, kind: "map", suffix: "Map")
            var text = "The map `\(name)` (\(map.type), \(map.maxEntries) entries of \(map.keySize)-byte keys and \(map.valueSize)-byte values"
            if let key = map.keyType, let keyName = try typeReference(key) { text += "; key `\(keyName)`" }
            if let value = map.valueType, let valueName = try typeReference(value) { text += "; value `\(valueName)`" }
            maps.append(Symbol(cName: name, swiftName: swiftName, documentation: text + ")."))
        }
        var variables: [Symbol] = []
        for name in spec.variables.keys.sorted() {
            guard let variable = spec.variables[name], !variable.mapName.hasPrefix(".kconfig"),
                !Self.isCompilerGenerated(name)
            else { continue }
            let swiftName = table.assign(cName: name, kind: "variable", suffix: "Variable")
            // An `__arena` global is a Variable of the arena map, read and written through the
            // arena's mapping like any memory-mapped global (`Variable` does that), so it gets the
            // same accessors.
            var text =
                spec.maps[variable.mapName]?.type == .arena
                ? "The __arena global `\(name)` (\(variable.size) bytes at offset \(variable.offset) of arena `\(variable.mapName)`, shared with programs through its mapping"
                : "The global variable `\(name)` (\(variable.size) bytes in `\(variable.mapName)`"
            if variable.isReadOnly { text += ", constant once loaded" }
            if let type = variable.typeID, let typeName = try typeReference(type) { text += "; type `\(typeName)`" }
            variables.append(Symbol(cName: name, swiftName: swiftName, documentation: text + ")."))
        }
        renamings = table.renamings
        return (programs, maps, variables)
    }

    // MARK: - Types

    /// The BTF types to declare: map keys and values (structs, unions, enums and typedefs; plain
    /// integers need no declaration) and the `-type` names.
    func declaredTypeIDs(variables: [Symbol] = []) throws(BPF2SwiftError) -> [BTFTypeID] {
        guard let btf = spec.types else {
            if let first = extraTypes.first {
                throw .generation("-type \(first): the object has no BTF (compile with -g)")
            }
            return []
        }
        var ids: [BTFTypeID] = []
        func add(_ id: BTFTypeID) {
            if !ids.contains(id) { ids.append(id) }
        }
        for name in spec.maps.keys.sorted() where !Self.isInternal(name) {
            guard let map = spec.maps[name] else { continue }
            for id in [map.keyType, map.valueType].compactMap({ $0 }) where try needsDeclaration(id, in: btf) { add(id) }
        }
        // The types of the variables ``<Ident>Spec`` reads and writes, and those a global points
        // to: `const struct event *unused_event` is how a C source gives BTF to a type it only
        // reaches through a local pointer (a ring buffer reservation), so it is declared without
        // a -type.
        for variable in variables {
            guard let id = spec.variables[variable.cName]?.typeID else { continue }
            if try needsDeclaration(id, in: btf) { add(id) }
            if let pointee = try pointeeType(of: id, in: btf), try needsDeclaration(pointee, in: btf) { add(pointee) }
        }
        for name in extraTypes {
            let kinds: [BTFKind] = [.struct, .union, .enum, .enum64, .typedef]
            guard let id = kinds.lazy.compactMap({ btf.typeID(named: name, kind: $0) }).first else {
                throw .generation(Self.missingTypeMessage(name))
            }
            add(id)
        }
        return ids
    }

    /// Why `-type name` found nothing, and the line that fixes it. Clang writes BTF only for types
    /// a global, a function signature or a map definition uses; a struct reached only through a
    /// local pointer (`e = bpf_ringbuf_reserve(...)`) has none. A typed global keeps it and costs
    /// nothing at run time (it is never written, and libbpf loads such an object as well); a
    /// `__type(value, ...)` on the ring buffer map would instead make libbpf 1.1 and older refuse
    /// the map.
    static func missingTypeMessage(_ name: String) -> String {
        let identifier = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        return "-type \(name): the object's BTF has no struct, union, enum or typedef of that name. "
            + "Clang emits BTF only for types that a global, a function or a map uses; a type reached only "
            + "through a local pointer (such as a ring buffer reservation) has none. Declare a global that "
            + "uses it in the C source, for example:\n    const struct \(name) *unused_\(identifier) __attribute__((unused));\n"
            + "(with enum or union in place of struct for those; for an enum, a struct field of its type works too)"
    }

    /// What `id` points to, after qualifiers on both sides of the pointer; nil when it is not a
    /// pointer.
    func pointeeType(of id: BTFTypeID, in btf: BTFSpec) throws(BPF2SwiftError) -> BTFTypeID? {
        var current = id
        for _ in 0..<32 {
            let type: BTFType
            do { type = try btf.type(current) } catch { throw .generation("BTF type \(current): \(error)") }
            switch type {
            case .const(let t), .volatile(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            case .pointer(let pointer): return pointer.target
            default: return nil
            }
        }
        return nil
    }

    /// Whether `id` (after qualifiers) is a type Swift needs a declaration for.
    func needsDeclaration(_ id: BTFTypeID, in btf: BTFSpec) throws(BPF2SwiftError) -> Bool {
        var current = id
        for _ in 0..<32 {
            let type: BTFType
            do { type = try btf.type(current) } catch { throw .generation("BTF type \(current): \(error)") }
            switch type {
            case .const(let t), .volatile(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            case .struct, .union, .enum, .enum64, .typedef: return true
            default: return false
            }
        }
        return false
    }

    /// How a comment names the Swift type for `id`: `<Ident>Types.name` for declared types, the
    /// standard type otherwise; nil without BTF.
    func typeReference(_ id: BTFTypeID) throws(BPF2SwiftError) -> String? {
        guard let btf = spec.types else { return nil }
        let name: String
        do { name = try btf.swiftTypeName(of: id) } catch { return nil }
        if try needsDeclaration(id, in: btf) { return "\(typePrefix)Types.\(name)" }
        return name
    }

    func typeDeclarations(variables: [Symbol]) throws(BPF2SwiftError) -> String {
        let ids = try declaredTypeIDs(variables: variables)
        guard let btf = spec.types, !ids.isEmpty else { return "" }
        do {
            return try btf.swiftDeclarations(of: ids)
        } catch {
            throw .generation("cannot declare the C types in Swift: \(error)")
        }
    }

    // MARK: - Output

    mutating func generate() throws(BPF2SwiftError) -> String {
        let (programs, maps, variables) = try symbols()
        let prefix = typePrefix
        var out = "// Code generated by bpf2swift from \(sourceName); DO NOT EDIT.\n"
        out += "//\n// Regenerate with: \(command.map(shellQuoted).joined(separator: " "))\n\n"
        out += "import EBPF\n\n"

        out += """
            /// The `\(sourceName)` object embedded in this file, compiled for this machine's byte
            /// order, read into a spec (no file is read at run time).
            public func load\(prefix)() throws(BPFObjectError) -> CollectionSpec {
                try CollectionSpec(elfBytes: \(prefix)EmbeddedObject.bytes)
            }

            /// Loads the programs, maps and variables of `\(sourceName)` that ``\(prefix)Objects``
            /// names (and what they depend on) into the kernel.
            public func load\(prefix)Objects(options: CollectionOptions = CollectionOptions()) throws -> \(prefix)Objects {
                try \(prefix)Objects(loading: try load\(prefix)(), options: options)
            }


            """

        out += objectsDeclaration(programs: programs, maps: maps, variables: variables)
        out += groupDeclaration(
            name: "\(prefix)Programs", what: "programs", symbols: programs, swiftType: "Program",
            namesMember: "programNames", take: "program", closeExpression: { "\($0).close()" })
        out += groupDeclaration(
            name: "\(prefix)Maps", what: "maps", symbols: maps, swiftType: "Map",
            namesMember: "mapNames", take: "map", closeExpression: { "\($0).close()" })
        out += groupDeclaration(
            name: "\(prefix)Variables", what: "global variables", symbols: variables, swiftType: "Variable",
            namesMember: "variableNames", take: "variable", closeExpression: { "\($0).map.close()" })

        out += specDeclaration(variables: try typedVariables(variables))

        let types = try typeDeclarations(variables: variables)
        out += "// MARK: - C types\n\n"
        out += "/// The C types of `\(sourceName)`'s map keys and values\(extraTypes.isEmpty ? "" : " and those named with -type"), with\n"
        out += "/// the size, alignment and field offsets they have in C.\n"
        out += "public enum \(prefix)Types {\n"
        for line in types.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            out += line.isEmpty ? "\n" : "    " + line + "\n"
        }
        out += "}\n\n"

        out += "// MARK: - Embedded object\n\n"
        out += embeddedObjectDeclaration()
        return out
    }

    func objectsDeclaration(programs: [Symbol], maps: [Symbol], variables: [Symbol]) -> String {
        let prefix = typePrefix
        var out = """
            /// Everything `\(sourceName)` declares, loaded: its programs, its maps and its global
            /// variables, each also reachable directly (`objects.\(programs.first?.swiftName ?? maps.first?.swiftName ?? "programs")`).
            ///
            /// ```swift
            /// let objects = try load\(prefix)Objects()
            /// defer { try? objects.close() }
            /// ```
            public struct \(prefix)Objects: CollectionObjects, Sendable {
                public static let programNames = \(prefix)Programs.programNames
                public static let mapNames = \(prefix)Maps.mapNames
                public static let variableNames = \(prefix)Variables.variableNames

                public let programs: \(prefix)Programs
                public let maps: \(prefix)Maps
                public let variables: \(prefix)Variables

                public init(assigning objects: CollectionAssignment) throws(CollectionError) {
                    programs = try \(prefix)Programs(assigning: objects)
                    maps = try \(prefix)Maps(assigning: objects)
                    variables = try \(prefix)Variables(assigning: objects)
                }

                /// Closes every program, map and variable map; attached links keep their programs
                /// alive in the kernel until they are closed too.
                public func close() throws {
                    var firstError: (any Error)?
                    do { try programs.close() } catch { firstError = firstError ?? error }
                    do { try maps.close() } catch { firstError = firstError ?? error }
                    do { try variables.close() } catch { firstError = firstError ?? error }
                    if let firstError { throw firstError }
                }

                /// Attaches every program whose section name says where it goes (tracepoints, kprobes,
                /// ksyscalls, uprobes with a path, fentry/fexit, LSM, iterators), as libbpf's skeletons
                /// do; the others (XDP, tc, cgroup, ...) are listed in ``AttachedLinks/skipped``.
                /// Closing the result detaches them all.
                public func attachAll() throws(LinkError) -> AttachedLinks {
                    try AutoAttach.attach([\(programs.map { "programs.\(SwiftNames.escaped($0.swiftName))" }.joined(separator: ", "))])
                }

            """
        for (symbols, group, type) in [(programs, "programs", "Program"), (maps, "maps", "Map"), (variables, "variables", "Variable")] {
            for symbol in symbols {
                out += "\n    /// \(symbol.documentation)\n"
                out += "    public var \(SwiftNames.escaped(symbol.swiftName)): \(type) { \(group).\(SwiftNames.escaped(symbol.swiftName)) }\n"
            }
        }
        return out + "}\n\n"
    }

    func groupDeclaration(
        name: String, what: String, symbols: [Symbol], swiftType: String, namesMember: String, take: String,
        closeExpression: (String) -> String
    ) -> String {
        var out = "/// The \(what) of `\(sourceName)`, loaded.\n"
        out += "public struct \(name): CollectionObjects, Sendable {\n"
        let names = symbols.map { "\"\($0.cName)\"" }.joined(separator: ", ")
        out += "    public static let \(namesMember): [String] = [\(names)]\n"
        for symbol in symbols {
            out += "\n    /// \(symbol.documentation)\n"
            out += "    public let \(SwiftNames.escaped(symbol.swiftName)): \(swiftType)\n"
        }
        out += "\n    public init(assigning objects: CollectionAssignment) throws(CollectionError) {\n"
        for symbol in symbols {
            out += "        \(SwiftNames.escaped(symbol.swiftName)) = try objects.\(take)(\"\(symbol.cName)\")\n"
        }
        out += "    }\n\n"
        out += "    /// Closes each of them (closing twice does nothing).\n"
        out += "    public func close() throws {\n"
        if symbols.isEmpty {
            out += "    }\n"
        } else {
            out += "        var firstError: (any Error)?\n"
            for symbol in symbols {
                out += "        do { try \(closeExpression(SwiftNames.escaped(symbol.swiftName))) } catch { firstError = firstError ?? error }\n"
            }
            out += "        if let firstError { throw firstError }\n    }\n"
        }
        return out + "}\n\n"
    }

    func embeddedObjectDeclaration() -> String {
        let prefix = typePrefix
        var out = "/// The compiled object for this machine's byte order, as base64 (quick to compile), decoded at\n"
        out += "/// first use.\n"
        out += "enum \(prefix)EmbeddedObject {\n"
        out += "    static let bytes: [UInt8] = decodeBase64(text)\n\n"
        var first = true
        for object in objects.sorted(by: { $0.littleEndian && !$1.littleEndian }) {
            let condition = object.littleEndian ? "_endian(little)" : "_endian(big)"
            out += first ? "    #if \(condition)\n" : "    #elseif \(condition)\n"
            first = false
            out += "        // \(object.littleEndian ? "bpfel" : "bpfeb"): \(object.bytes.count) bytes\n"
            out += "        private static let text = \"\"\"\n"
            let encoded = Base64.encode(object.bytes)
            var index = encoded.startIndex
            while index < encoded.endIndex {
                let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
                out += "            " + encoded[index..<end] + "\n"
                index = end
            }
            out += "            \"\"\"\n"
        }
        let missing = objects.contains(where: \.littleEndian) ? "big" : "little"
        if objects.count < 2 {
            out += "    #else\n"
            out += "        #error(\"\(identifier): \(sourceName) was not compiled for \(missing)-endian machines; run bpf2swift with -target bpf\")\n"
        }
        out += "    #endif\n\n"
        out += """
                /// Decodes standard base64, skipping the line breaks and indentation of the literal.
                private static func decodeBase64(_ text: String) -> [UInt8] {
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(text.utf8.count / 4 * 3)
                    var accumulator: UInt32 = 0
                    var bits = 0
                    for character in text.utf8 {
                        let value: UInt32
                        switch character {
                        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
                        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
                        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
                        case UInt8(ascii: "+"): value = 62
                        case UInt8(ascii: "/"): value = 63
                        default: continue
                        }
                        accumulator = (accumulator << 6) | value
                        bits += 6
                        if bits >= 8 {
                            bits -= 8
                            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                        }
                    }
                    return bytes
                }
            }

            """
        return out
    }
}

/// Standard base64 (RFC 4648) with padding.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = (b0 << 16) | (b1 << 8) | b2
            out.append(alphabet[Int((group >> 18) & 63)])
            out.append(alphabet[Int((group >> 12) & 63)])
            out.append(remaining > 1 ? alphabet[Int((group >> 6) & 63)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
