import EBPF

/// `ebpf inspect`: what an object file holds, as a table or as JSON for scripts.
enum Inspect {
    /// The spec as JSON:
    /// `{"programs":[{"name","section","type","attachType","instructions"}],
    ///   "maps":[{"name","type","keySize","valueSize","maxEntries","flags"}],
    ///   "variables":[{"name","section","offset","size","readOnly"}]}`,
    /// each list sorted by name. Types are the kernel's names without prefix, in lower case;
    /// `attachType` is null when the program has none; `instructions` counts the entry function's
    /// instructions (a `lddw` counts once).
    static func json(_ spec: CollectionSpec) -> String {
        let programs = spec.programs.values.sorted { $0.name < $1.name }.map { program in
            object([
                ("name", string(program.name)),
                ("section", string(program.sectionName)),
                ("type", string(program.type.shortName)),
                ("attachType", program.attachType.map { string($0.shortName) } ?? "null"),
                ("instructions", String(program.instructions.count)),
            ])
        }
        let maps = spec.maps.values.sorted { $0.name < $1.name }.map { map in
            object([
                ("name", string(map.name)),
                ("type", string(map.type.shortName)),
                ("keySize", String(map.keySize)),
                ("valueSize", String(map.valueSize)),
                ("maxEntries", String(map.maxEntries)),
                ("flags", String(map.flags.rawValue)),
            ])
        }
        let variables = spec.variables.values.sorted { $0.name < $1.name }.map { variable in
            object([
                ("name", string(variable.name)),
                ("section", string(section(of: variable, in: spec))),
                ("offset", String(variable.offset)),
                ("size", String(variable.size)),
                ("readOnly", variable.isReadOnly ? "true" : "false"),
            ])
        }
        return object([
            ("programs", "[" + programs.joined(separator: ",") + "]"),
            ("maps", "[" + maps.joined(separator: ",") + "]"),
            ("variables", "[" + variables.joined(separator: ",") + "]"),
        ])
    }

    /// The spec as aligned text, one line per program, map and variable.
    static func text(_ spec: CollectionSpec) -> String {
        var lines: [String] = []
        lines.append("programs:")
        for program in spec.programs.values.sorted(by: { $0.name < $1.name }) {
            var line = "  \(program.name)  section=\(program.sectionName)  type=\(program.type.shortName)"
            if let attachType = program.attachType { line += "  attach=\(attachType.shortName)" }
            if let target = program.attachTarget { line += "  target=\(target)" }
            line += "  instructions=\(program.instructions.count)"
            lines.append(line)
        }
        if !spec.subprograms.isEmpty {
            lines.append("subprograms:")
            for program in spec.subprograms.values.sorted(by: { $0.name < $1.name }) {
                lines.append("  \(program.name)  section=\(program.sectionName)  instructions=\(program.instructions.count)")
            }
        }
        lines.append("maps:")
        for map in spec.maps.values.sorted(by: { $0.name < $1.name }) {
            lines.append(
                "  \(map.name)  type=\(map.type.shortName)  key=\(map.keySize)  value=\(map.valueSize)"
                    + "  max_entries=\(map.maxEntries)  flags=0x\(String(map.flags.rawValue, radix: 16))")
        }
        lines.append("variables:")
        for variable in spec.variables.values.sorted(by: { $0.name < $1.name }) {
            lines.append(
                "  \(variable.name)  section=\(section(of: variable, in: spec))  offset=\(variable.offset)  size=\(variable.size)"
                    + (spec.maps[variable.mapName]?.type == .arena ? "  arena=\(variable.mapName)" : "")
                    + (variable.isReadOnly ? "  read-only" : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// The ELF section a variable comes from: its data-section map's name, or `.addr_space.1` for
    /// an `__arena` global, whose map is the arena.
    private static func section(of variable: VariableSpec, in spec: CollectionSpec) -> String {
        spec.maps[variable.mapName]?.type == .arena ? CollectionSpec.arenaGlobalsSection : variable.mapName
    }

    private static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// A JSON string literal; control characters and non-ASCII bytes from hostile names are escaped.
    static func string(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || (scalar.value >= 0x7f && scalar.value < 0xa0):
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
