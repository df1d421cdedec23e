import EBPFBTF

extension StructLayoutBuilder {
    /// One pass over a C composite that collects the stored fields and union accessors of a recipe.
    struct Walk {
        enum Mode: Equatable {
            /// Members become stored fields.
            case stored
            /// Members become accessors; `prefix` is the union member they belong to (empty when
            /// anonymous).
            case accessor(prefix: String)
        }

        let recipe: StructRecipe
        let builder: StructLayoutBuilder
        var fields: [LayoutField] = []
        var accessors: [LayoutAccessor] = []
        private var usedNames: Set<String> = []
        /// Set once `recipe.lastField` was laid out: nothing after it belongs to the struct.
        private var finished = false

        init(recipe: StructRecipe, builder: StructLayoutBuilder) {
            self.recipe = recipe
            self.builder = builder
        }

        mutating func visit(
            composite: BTFComposite, isUnion: Bool, base: Int, path: [String], mode: Mode
        ) throws(SysTypesGeneratorError) {
            if isUnion {
                try visitUnion(composite, base: base, path: path, mode: mode)
                return
            }
            for member in composite.members where !finished {
                try visit(member: member, base: base, path: path, mode: mode)
            }
        }

        private mutating func visit(
            member: BTFMember, base: Int, path: [String], mode: Mode
        ) throws(SysTypesGeneratorError) {
            let memberPath = member.name.isEmpty ? path : path + [member.name]
            let offset = base + Int(member.bitOffset) / 8
            switch try builder.resolved(member.type) {
            case .struct(let composite):
                try visit(composite: composite, isUnion: false, base: offset, path: memberPath, mode: mode)
            case .union(let composite):
                try visit(composite: composite, isUnion: true, base: offset, path: memberPath, mode: mode)
            case let type:
                try leaf(member, type: type, base: base, path: memberPath, mode: mode)
            }
        }

        private mutating func visitUnion(
            _ union: BTFComposite, base: Int, path: [String], mode: Mode
        ) throws(SysTypesGeneratorError) {
            guard let first = union.members.first else { return }
            let opaqueNames = recipe.opaqueUnions
            if mode == .stored, let name = union.members.compactMap({ opaqueNames[$0.name] }).first {
                try opaque(union, named: name, base: base, path: path)
                return
            }
            var chosen = first
            var explicit = false
            for member in union.members {
                guard recipe.choices.contains(try builder.firstFieldName(of: member)) else { continue }
                chosen = member
                explicit = true
                break
            }
            try visit(member: chosen, base: base, path: path, mode: mode)
            guard mode == .stored, !explicit, !finished else { return }
            for member in union.members where member != chosen {
                try visit(member: member, base: base, path: path, mode: .accessor(prefix: member.name))
            }
        }

        /// A union kept as bytes: one field of the widest integers its offset and size allow.
        private mutating func opaque(
            _ union: BTFComposite, named name: String, base: Int, path: [String]
        ) throws(SysTypesGeneratorError) {
            let size = Int(union.size)
            let alignment = try builder.naturalAlignment(ofComposite: union)
            let width = [8, 4, 2, 1].first { $0 <= alignment && base % $0 == 0 && size % $0 == 0 } ?? 1
            let run = integerRun(offset: base, width: width, count: size / width)
            let members = union.members.map { $0.name.isEmpty ? "(anonymous)" : $0.name }
            try claim(name, cPath: path.joined(separator: "."))
            fields.append(
                LayoutField(
                    name: name, type: run.type, initialValue: run.initialValue, offset: base, size: run.size,
                    alignment: run.alignment, cPath: path.joined(separator: "."),
                    doc: "The union of \(members.map { "`\($0)`" }.joined(separator: ", ")), as bytes."))
        }

        private mutating func leaf(
            _ member: BTFMember, type: BTFType, base: Int, path: [String], mode: Mode
        ) throws(SysTypesGeneratorError) {
            // An unnamed bit field only pads the word it sits in.
            guard !member.name.isEmpty else { return }
            let cPath = path.joined(separator: ".")
            let swiftType = try self.swiftType(of: member.type, resolved: type, cPath: cPath)
            let bitOffset = Int(member.bitOffset)
            var offset = base + bitOffset / 8
            var isBitfield = member.bitfieldSize != 0 || bitOffset % 8 != 0
            if case .int(let int) = type, Int(int.bits) != Int(int.size) * 8 || int.offset != 0 {
                isBitfield = true
            }
            var doc: String?
            if isBitfield {
                // The field holds the whole storage word, named after the first bit field in it.
                let unitBits = swiftType.size * 8
                offset = base + bitOffset / unitBits * swiftType.size
                if fields.contains(where: { $0.isBitfieldUnit && $0.offset == offset }) { return }
                doc = "The word holding the kernel's bit field `\(cPath)` (from bit \(bitOffset % unitBits))."
            }
            switch mode {
            case .stored:
                var name = recipe.renames[cPath] ?? SwiftNames.lowerCamel(member.name)
                if usedNames.contains(name), let parent = path.dropLast().last {
                    name = SwiftNames.lowerCamel(parent + "_" + member.name)
                }
                try claim(name, cPath: cPath)
                fields.append(
                    LayoutField(
                        name: name, type: swiftType.name, initialValue: swiftType.initialValue, offset: offset,
                        size: swiftType.size, alignment: swiftType.alignment, cPath: cPath,
                        isBitfieldUnit: isBitfield, doc: doc))
                if cPath == recipe.lastField { finished = true }
            case .accessor(let prefix):
                let name =
                    recipe.renames[cPath]
                    ?? SwiftNames.lowerCamel(prefix.isEmpty || prefix == member.name ? member.name : prefix + "_" + member.name)
                guard !isBitfield else {
                    throw .unsupportedMember(type: recipe.swiftName, member: cPath, reason: "bit field in a union")
                }
                try claim(name, cPath: cPath)
                accessors.append(
                    LayoutAccessor(name: name, type: swiftType.name, offset: offset, size: swiftType.size, cPath: cPath))
            }
        }

        private mutating func claim(_ name: String, cPath: String) throws(SysTypesGeneratorError) {
            guard usedNames.insert(name).inserted else {
                throw .nameCollision(structName: recipe.swiftName, name: name, member: cPath)
            }
        }

        // MARK: - Swift types

        struct SwiftType {
            var name: String
            var initialValue: String
            var size: Int
            var alignment: Int
        }

        private static let scalarSizes: [String: Int] = [
            "UInt8": 1, "UInt16": 2, "UInt32": 4, "UInt64": 8, "Int8": 1, "Int16": 2, "Int32": 4, "Int64": 8,
        ]

        private func swiftType(
            of id: BTFTypeID, resolved type: BTFType, cPath: String
        ) throws(SysTypesGeneratorError) -> SwiftType {
            let natural = try naturalType(resolved: type, cPath: cPath)
            guard let override = recipe.typeOverrides[cPath] else { return natural }
            guard let size = Self.scalarSizes[override], size == natural.size else {
                throw .unsupportedMember(
                    type: recipe.swiftName, member: cPath, reason: "override \(override) does not have its size")
            }
            return SwiftType(name: override, initialValue: "0", size: size, alignment: size)
        }

        private func naturalType(resolved type: BTFType, cPath: String) throws(SysTypesGeneratorError) -> SwiftType {
            switch type {
            case .int(let int):
                return try scalar(size: Int(int.size), signed: int.encoding.contains(.signed), cPath: cPath)
            case .enum(let e), .enum64(let e):
                return try scalar(size: Int(e.size), signed: e.isSigned, cPath: cPath)
            case .pointer:
                return SwiftType(name: "UInt64", initialValue: "0", size: 8, alignment: 8)
            case .array(let array):
                let element = try builder.resolved(array.elementType)
                let count = Int(array.count)
                if case .int(let int) = element, int.size == 1, count == 16 {
                    return SwiftType(name: "BPFObjectName", initialValue: "BPFObjectName()", size: 16, alignment: 1)
                }
                let scalar = try naturalType(resolved: element, cPath: cPath)
                guard Self.scalarSizes[scalar.name] != nil, (1...64).contains(count) else {
                    throw .unsupportedMember(type: recipe.swiftName, member: cPath, reason: "array of \(count)")
                }
                let run = integerRunType(scalar.name, count: count)
                return SwiftType(
                    name: run.type, initialValue: run.initialValue, size: scalar.size * count, alignment: scalar.alignment)
            default:
                throw .unsupportedMember(type: recipe.swiftName, member: cPath, reason: "kind \(type.kind)")
            }
        }

        private func scalar(size: Int, signed: Bool, cPath: String) throws(SysTypesGeneratorError) -> SwiftType {
            guard [1, 2, 4, 8].contains(size) else {
                throw .unsupportedMember(type: recipe.swiftName, member: cPath, reason: "integer of \(size) bytes")
            }
            return SwiftType(name: "\(signed ? "Int" : "UInt")\(size * 8)", initialValue: "0", size: size, alignment: size)
        }

        private func integerRunType(_ scalar: String, count: Int) -> (type: String, initialValue: String) {
            if count == 1 { return (scalar, "0") }
            return (
                "(" + Array(repeating: scalar, count: count).joined(separator: ", ") + ")",
                "(" + Array(repeating: "0", count: count).joined(separator: ", ") + ")"
            )
        }
    }
}
