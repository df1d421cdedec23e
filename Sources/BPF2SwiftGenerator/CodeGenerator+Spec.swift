import EBPF

/// The `<Ident>Spec` declaration: the object's spec before load, with a typed getter and setter
/// for each global variable (`.rodata` constants among them), so values are given in their C
/// types rather than as bytes by name.
extension CodeGenerator {
    /// A variable with the Swift type its BTF gives it; nil when it has no BTF type or one Swift
    /// cannot hold.
    struct TypedVariable {
        var symbol: Symbol
        var swiftType: String
    }

    func typedVariables(_ variables: [Symbol]) throws(BPF2SwiftError) -> [TypedVariable] {
        guard spec.types != nil else { return [] }
        var result: [TypedVariable] = []
        for symbol in variables {
            guard let id = spec.variables[symbol.cName]?.typeID, let type = try typeReference(id), type != "Void",
                Self.namesOnlyKnownTypes(type, prefix: typePrefix)
            else { continue }
            result.append(TypedVariable(symbol: symbol, swiftType: type))
        }
        return result
    }

    /// Whether every name in `type` is a standard Swift type or one of `<prefix>Types`: an array
    /// of a typedef maps to a tuple of the typedef's bare name, which the file does not declare
    /// at the top level, and a variable like that gets no typed accessor (its bytes still can be
    /// set through ``CollectionSpec/setVariable(_:to:)``). Long tuples are left out too.
    static func namesOnlyKnownTypes(_ type: String, prefix: String) -> Bool {
        guard type.count <= 2048 else { return false }
        if type.hasPrefix(prefix + "Types.") { return true }
        let standard: Set<Substring> = [
            "Bool", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Int128", "UInt128",
            "Float", "Double",
        ]
        let words = type.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") })
        return words.allSatisfy { standard.contains($0) }
    }

    /// A value of `type` for the doc comment's example.
    static func exampleValue(of type: String) -> String {
        if type == "Bool" { return "true" }
        if type.hasPrefix("Int") || type.hasPrefix("UInt") { return "1" }
        return "\(type)()"
    }

    func specDeclaration(variables: [TypedVariable]) -> String {
        let prefix = typePrefix
        var out = """
            /// The spec of `\(sourceName)` before load, with the global variables in their C types:
            /// `.rodata` constants take their values here, before the programs are verified.
            ///
            /// ```swift
            /// var spec = try \(prefix)Spec()
            /// \(variables.first.map { "try spec.set(\(SwiftNames.escaped($0.symbol.swiftName)): \(Self.exampleValue(of: $0.swiftType)))" } ?? "// (the object has no typed global variables)")
            /// let objects = try spec.load()
            /// ```
            ///
            /// Each setter checks the value's size against the variable's in BTF and throws
            /// ``VariableError`` when they differ (an object rebuilt with another type).
            public struct \(prefix)Spec: Sendable {
                /// The spec the setters change; load it yourself for options this type does not offer.
                public var spec: CollectionSpec

                /// The embedded object's spec.
                public init() throws(BPFObjectError) { spec = try load\(prefix)() }

                /// Wraps a spec of the same object (read from a file, say).
                public init(_ spec: CollectionSpec) { self.spec = spec }

                /// Loads what ``\(prefix)Objects`` names, with the values set so far.
                public func load(options: CollectionOptions = CollectionOptions()) throws -> \(prefix)Objects {
                    try \(prefix)Objects(loading: spec, options: options)
                }

            """
        for variable in variables {
            let name = SwiftNames.escaped(variable.symbol.swiftName)
            let cName = variable.symbol.cName
            let type = variable.swiftType
            out += """

                    /// \(variable.symbol.documentation)
                    public var \(name): \(type) {
                        get throws(VariableError) {
                            let bytes = try spec.value(ofVariable: "\(cName)")
                            guard bytes.count == MemoryLayout<\(type)>.size else {
                                throw .sizeMismatch(variable: "\(cName)", size: UInt32(truncatingIfNeeded: bytes.count), given: MemoryLayout<\(type)>.size)
                            }
                            return bytes.withUnsafeBytes { $0.loadUnaligned(as: \(type).self) }
                        }
                    }

                    /// Sets `\(cName)` before load.
                    public mutating func set(\(name) value: \(type)) throws(VariableError) {
                        try spec.setVariable("\(cName)", to: Swift.withUnsafeBytes(of: value) { Array($0) })
                    }

                """
        }
        return out + "}\n\n"
    }
}
