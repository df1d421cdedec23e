extension BTFSpec {
    /// Every own type of the spec, one `[id] KIND 'name' ...` line each (members, enumerators,
    /// parameters and data section entries indented below), in the format of
    /// `bpftool btf dump file FILE` (its default, raw format).
    public func rawDump() throws(BTFError) -> String {
        let graph = try typeGraph()
        var output = ""
        output.reserveCapacity(graph.types.count * 48)
        var id = firstTypeID.rawValue
        while Int(id) < graph.types.count {
            Self.appendRaw(graph.types[Int(id)], id: id, graph: graph, to: &output)
            id &+= 1
        }
        return output
    }

    private static func quoted(_ name: String) -> String { name.isEmpty ? "'(anon)'" : "'\(name)'" }

    private static func rawKindName(_ kind: BTFKind) -> String {
        switch kind {
        case .int: return "INT"
        case .pointer: return "PTR"
        case .array: return "ARRAY"
        case .struct: return "STRUCT"
        case .union: return "UNION"
        case .enum: return "ENUM"
        case .enum64: return "ENUM64"
        case .forward: return "FWD"
        case .typedef: return "TYPEDEF"
        case .volatile: return "VOLATILE"
        case .const: return "CONST"
        case .restrict: return "RESTRICT"
        case .function: return "FUNC"
        case .functionPrototype: return "FUNC_PROTO"
        case .variable: return "VAR"
        case .dataSection: return "DATASEC"
        case .float: return "FLOAT"
        case .declarationTag: return "DECL_TAG"
        case .typeTag: return "TYPE_TAG"
        default: return "UNKN"
        }
    }

    private static func appendRaw(_ type: BTFType, id: UInt32, graph: BTFTypeGraph, to output: inout String) {
        let kindName = rawKindName(type.kind)
        output += "[\(id)] \(kindName) \(quoted(type.name))"
        switch type {
        case .void:
            break
        case .int(let t):
            let encoding: String
            if t.encoding.contains(.signed) {
                encoding = "SIGNED"
            } else if t.encoding.contains(.char) {
                encoding = "CHAR"
            } else if t.encoding.contains(.bool) {
                encoding = "BOOL"
            } else {
                encoding = t.encoding.rawValue == 0 ? "(none)" : "?"
            }
            output += " size=\(t.size) bits_offset=\(t.offset) nr_bits=\(t.bits) encoding=\(encoding)"
        case .pointer(let t):
            output += " type_id=\(t.target)"
        case .typedef(let t):
            output += " type_id=\(t.type)"
        case .volatile(let t), .const(let t), .restrict(let t):
            output += " type_id=\(t.type)"
        case .typeTag(let t):
            output += " type_id=\(t.type)"
        case .array(let t):
            output += " type_id=\(t.elementType) index_type_id=\(t.indexType) nr_elems=\(t.count)"
        case .struct(let t), .union(let t):
            output += " size=\(t.size) vlen=\(t.members.count)"
            for member in t.members {
                output += "\n\t\(quoted(member.name)) type_id=\(member.type) bits_offset=\(member.bitOffset)"
                if member.bitfieldSize != 0 { output += " bitfield_size=\(member.bitfieldSize)" }
            }
        case .enum(let t), .enum64(let t):
            output += " encoding=\(t.isSigned ? "SIGNED" : "UNSIGNED") size=\(t.size) vlen=\(t.values.count)"
            let is64 = type.kind == .enum64
            for value in t.values {
                let text: String
                if is64 {
                    text = t.isSigned ? "\(value.signedValue)LL" : "\(value.value)ULL"
                } else {
                    let low = UInt32(truncatingIfNeeded: value.value)
                    text = t.isSigned ? "\(Int32(bitPattern: low))" : "\(low)"
                }
                output += "\n\t\(quoted(value.name)) val=\(text)"
            }
        case .forward(let t):
            output += " fwd_kind=\(t.isUnion ? "union" : "struct")"
        case .function(let t):
            output += " type_id=\(t.prototype) linkage=\(t.linkage)"
        case .functionPrototype(let t):
            output += " ret_type_id=\(t.returnType) vlen=\(t.parameters.count)"
            for parameter in t.parameters {
                output += "\n\t\(quoted(parameter.name)) type_id=\(parameter.type)"
            }
        case .variable(let t):
            output += " type_id=\(t.type), linkage=\(t.linkage)"
        case .dataSection(let t):
            output += " size=\(t.size) vlen=\(t.variables.count)"
            for variable in t.variables {
                output += "\n\ttype_id=\(variable.type) offset=\(variable.offset) size=\(variable.size)"
                if let target = graph[variable.type] {
                    output += " (\(rawKindName(target.kind)) \(quoted(target.name)))"
                }
            }
        case .float(let t):
            output += " size=\(t.size)"
        case .declarationTag(let t):
            output += " type_id=\(t.type) component_idx=\(t.componentIndex)"
        }
        output += "\n"
    }
}
