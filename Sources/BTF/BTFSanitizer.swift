extension BTFTypeGraph {
    /// The graph with every kind and flag outside `supported` replaced by something older kernels
    /// accept, the way libbpf rewrites an object's BTF before loading it. Ids stay as they are; a
    /// replacement int for enum64 members is added after the last type when needed.
    ///
    /// - Without `.dataSections`: a variable becomes a 1-byte int of its name; a data section
    ///   becomes a struct of the same size, named with `.` and `?` turned into `_`, whose members
    ///   are its variables by name at their bit offsets.
    /// - Without `.functions`: a function becomes a typedef of its prototype; a prototype becomes
    ///   a 4-byte enum with one enumerator per parameter (valued by the parameter's type id, and
    ///   named `_param<n>` where the parameter has no name, since enumerators need names).
    /// - Without `.globalFunctions`: every function becomes static.
    /// - Without `.floats`: a float becomes an anonymous empty struct of its size.
    /// - Without `.declarationTags`: a declaration tag becomes a 1-byte int of its name.
    /// - Without `.typeTags`: a type tag becomes `const`.
    /// - Without `.enum64`: signed enums become unsigned (the same 32 bits); an enum64 becomes a
    ///   union of its size with one member per enumerator, each an int named `enum64_placeholder`
    ///   at offset 0.
    public func sanitized(for supported: BTFFeatures) -> BTFTypeGraph {
        let missing = BTFFeatures.all.subtracting(supported)
        guard !missing.isEmpty else { return self }
        var result = types
        let first = min(Int(firstTypeID.rawValue), types.count)
        var enum64Placeholder: BTFTypeID?

        for index in first..<types.count {
            switch types[index] {
            case .variable(let t) where missing.contains(.dataSections):
                result[index] = .int(BTFInt(name: t.name, size: 1, encoding: [], bits: 8))
            case .declarationTag(let t) where missing.contains(.declarationTags):
                result[index] = .int(BTFInt(name: t.name, size: 1, encoding: [], bits: 8))
            case .dataSection(let t) where missing.contains(.dataSections):
                let name = String(t.name.map { $0 == "." || $0 == "?" ? "_" : $0 })
                let members = t.variables.map { variable in
                    BTFMember(
                        name: self[variable.type]?.name ?? "", type: variable.type,
                        bitOffset: variable.offset &* 8)
                }
                result[index] = .struct(BTFComposite(name: name, size: t.size, members: members))
            case .functionPrototype(let t) where missing.contains(.functions):
                let values = t.parameters.enumerated().map { position, parameter in
                    BTFEnumValue(
                        name: parameter.name.isEmpty ? "_param\(position)" : parameter.name,
                        value: UInt64(parameter.type.rawValue))
                }
                result[index] = .enum(BTFEnum(name: "", size: 4, isSigned: false, values: values))
            case .function(let t) where missing.contains(.functions):
                result[index] = .typedef(BTFTypedef(name: t.name, type: t.prototype))
            case .function(var t) where missing.contains(.globalFunctions):
                t.linkage = .static
                result[index] = .function(t)
            case .float(let t) where missing.contains(.floats):
                result[index] = .struct(BTFComposite(name: "", size: t.size, members: []))
            case .typeTag(let t) where missing.contains(.typeTags):
                result[index] = .const(BTFQualifier(type: t.type))
            case .enum(var t) where missing.contains(.enum64) && t.isSigned:
                // The wire keeps the same 32 bits; only their reading changes.
                t.isSigned = false
                for position in t.values.indices {
                    t.values[position].value = UInt64(UInt32(truncatingIfNeeded: t.values[position].value))
                }
                result[index] = .enum(t)
            case .enum64(let t) where missing.contains(.enum64):
                let placeholder: BTFTypeID
                if let existing = enum64Placeholder {
                    placeholder = existing
                } else {
                    placeholder = BTFTypeID(UInt32(truncatingIfNeeded: result.count))
                    result.append(.int(BTFInt(name: "enum64_placeholder", size: 1, encoding: [], bits: 8)))
                    enum64Placeholder = placeholder
                }
                let members = t.values.map { BTFMember(name: $0.name, type: placeholder, bitOffset: 0) }
                result[index] = .union(BTFComposite(name: t.name, size: t.size, members: members))
            default:
                break
            }
        }
        return BTFTypeGraph(types: result, firstTypeID: firstTypeID)
    }
}

extension BTFSpec {
    /// The spec's type graph, sanitised for what `probes` says the kernel accepts. Only the
    /// features the spec uses are probed.
    public func sanitizedGraph(probes: BTFFeatureProbes = .kernel) throws(BTFLoadError) -> BTFTypeGraph {
        let graph: BTFTypeGraph
        do {
            graph = try typeGraph()
        } catch {
            throw .marshalling(.decoding(error))
        }
        let required = BTFFeatures(requiredBy: graph)
        let supported = try probes.supported(required)
        return graph.sanitized(for: supported.union(BTFFeatures.all.subtracting(required)))
    }
}
