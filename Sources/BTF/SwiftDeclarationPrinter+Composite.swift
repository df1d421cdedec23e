extension SwiftDeclarationPrinter {
    /// A stored property of a generated struct.
    private struct StoredField {
        var name: String
        var type: String
    }

    /// Declares a struct or union, returning its Swift name.
    func declareComposite(_ id: BTFTypeID, _ composite: BTFComposite, isUnion: Bool) throws(BTFError) -> String {
        let keyword = isUnion ? "union" : "struct"
        let cName = composite.name.isEmpty ? (anonymousNames[id.rawValue] ?? "anonymous_\(keyword)_\(id)") : composite.name
        let name = swiftName(for: cName, kind: keyword)
        mapped[id.rawValue] = name
        guard composite.size <= Self.maximumTupleCount else { throw tooLarge(id) }
        let size = Int(composite.size)
        let structAlignment = try alignment(of: id)

        // Anonymous member types are named after the member that holds them.
        for (index, member) in composite.members.enumerated() {
            let resolved = try spec.underlyingTypeID(of: member.type)
            let target = try type(resolved)
            if target.name.isEmpty, Self.namedKinds.contains(target.kind),
                anonymousNames[resolved.rawValue] == nil
            {
                anonymousNames[resolved.rawValue] = cName + "_" + memberName(member, index: index)
            }
        }

        var fields: [StoredField] = []
        var accessors = ""
        var cursor = 0
        var paddingCount = 0
        var usedNames: Set<String> = []

        func addPadding(upTo end: Int, storageAlignment: Int) {
            var position = cursor
            var runType = ""
            var runCount = 0
            func flush() {
                guard runCount > 0 else { return }
                let tuple = runCount == 1 ? "(\(runType))" : "(" + Array(repeating: runType, count: runCount).joined(separator: ", ") + ")"
                fields.append(StoredField(name: "_pad\(paddingCount)", type: tuple))
                paddingCount += 1
                runCount = 0
            }
            while position < end {
                var unit = 1
                for candidate in [16, 8, 4, 2] where candidate <= storageAlignment && position % candidate == 0 && position + candidate <= end {
                    unit = candidate
                    break
                }
                let unitType = unit == 16 ? "UInt128" : unit == 8 ? "UInt64" : unit == 4 ? "UInt32" : unit == 2 ? "UInt16" : "UInt8"
                if unitType != runType { flush() }
                runType = unitType
                runCount += 1
                position += unit
            }
            flush()
            cursor = max(cursor, end)
        }

        // Decide which members can be stored properties at their C offsets.
        var storedMembers: Set<Int> = []
        var storedAlignment = 1
        if !isUnion {
            var probe = 0
            for (index, member) in composite.members.enumerated() where member.bitfieldSize == 0 && member.bitOffset % 8 == 0 {
                if case .int(let integer) = try type(try spec.underlyingTypeID(of: member.type)),
                    Int(integer.bits) != Int(integer.size) * 8 || integer.offset != 0
                {
                    continue  // an old-style bitfield described by its int type
                }
                let offset = Int(member.bitOffset / 8)
                let memberSize = try self.size(of: member.type)
                let memberAlignment = try self.alignment(of: member.type)
                guard memberSize > 0, offset >= probe, memberAlignment <= structAlignment, offset % memberAlignment == 0,
                    offset + memberSize <= size
                else { continue }
                storedMembers.insert(index)
                storedAlignment = max(storedAlignment, memberAlignment)
                probe = offset + memberSize
            }
        }
        // Without a stored member or padding unit as strict as C's alignment the struct would
        // come out less aligned; keep everything in storage units of that alignment instead.
        var opaque = isUnion
        if !opaque, storedAlignment < structAlignment {
            opaque = !paddingCanReach(structAlignment, size: size, storedMembers: storedMembers, composite: composite)
        }
        if opaque { storedMembers = [] }

        for (index, member) in composite.members.enumerated() {
            let memberIdentifier = uniqueName(memberName(member, index: index), &usedNames)
            if member.bitfieldSize != 0 || member.bitOffset % 8 != 0 || isIntBitfield(member) {
                if member.name.isEmpty { continue }
                accessors += try bitfieldAccessor(member, name: memberIdentifier)
                continue
            }
            let memberType = try swiftType(for: member.type)
            let memberSize = try self.size(of: member.type)
            if memberSize == 0 { continue }
            let offset = Int(member.bitOffset / 8)
            if storedMembers.contains(index) {
                addPadding(upTo: offset, storageAlignment: structAlignment)
                fields.append(StoredField(name: memberIdentifier, type: memberType))
                cursor = offset + memberSize
            } else {
                accessors += """
                        public var \(SwiftIdentifiers.escaped(memberIdentifier)): \(memberType) {
                            get { withUnsafeBytes(of: self) { $0.loadUnaligned(fromByteOffset: \(offset), as: Array<\(memberType)>.Element.self) } }
                            set { withUnsafeMutableBytes(of: &self) { $0.storeBytes(of: newValue, toByteOffset: \(offset), as: Array<\(memberType)>.Element.self) } }
                        }

                    """
            }
        }
        addPadding(upTo: size, storageAlignment: structAlignment)
        if opaque, fields.count == 1 { fields[0].name = "_storage" }

        // Arrays read like Swift: `char[N]` as a String, other arrays as an Array.
        for (index, member) in composite.members.enumerated()
        where !member.name.isEmpty && member.bitfieldSize == 0 && member.bitOffset % 8 == 0 && !isUnion {
            accessors += try arrayAccessor(member, name: memberName(member, index: index), used: &usedNames)
        }

        // C reaches the members of an anonymous struct or union member as its own; so does Swift.
        for (index, member) in composite.members.enumerated() where member.name.isEmpty && member.bitfieldSize == 0 {
            let holder = SwiftIdentifiers.escaped(memberName(member, index: index))
            for forwarded in try forwardedMembers(of: member.type, path: holder) where !usedNames.contains(forwarded.name) {
                usedNames.insert(forwarded.name)
                let name = SwiftIdentifiers.escaped(forwarded.name)
                accessors += """
                        public var \(name): \(forwarded.type) {
                            get { \(forwarded.path) }
                            set { \(forwarded.path) = newValue }
                        }

                    """
            }
        }

        var text = "/// `\(keyword) \(composite.name.isEmpty ? "(anonymous)" : composite.name)`: \(size) bytes, aligned to \(structAlignment).\n"
        text += "public struct \(name): BitwiseCopyable, Sendable {\n"
        for field in fields {
            text += "    public var \(SwiftIdentifiers.escaped(field.name)): \(field.type)\n"
        }
        text += """

                /// All bytes zero.
                public init() {
                    self = withUnsafeTemporaryAllocation(
                        byteCount: MemoryLayout<Self>.size, alignment: MemoryLayout<Self>.alignment
                    ) { bytes in
                        bytes.initializeMemory(as: UInt8.self, repeating: 0)
                        return bytes.load(as: Self.self)
                    }
                }

            """
        if !accessors.isEmpty { text += "\n" + accessors }
        text += "}\n\n"
        output += text
        return name
    }

    /// For an array member: `<name>String` for `char[N]` (up to the first NUL; setting it stores
    /// the UTF-8 bytes, cut to leave room for a NUL, and zeroes the rest) or `<name>Elements`, an
    /// `Array` of the elements, for other arrays. Empty for other members.
    private func arrayAccessor(_ member: BTFMember, name: String, used: inout Set<String>) throws(BTFError) -> String {
        guard case .array(let array) = try type(try spec.underlyingTypeID(of: member.type)), array.count > 0 else { return "" }
        let offset = Int(member.bitOffset / 8)
        let count = Int(array.count)
        let elementID = try spec.underlyingTypeID(of: array.elementType)
        if case .int(let integer) = try type(elementID), integer.size == 1,
            integer.encoding.contains(.char) || integer.name == "char"
        {
            let property = uniqueName(name + "String", &used)
            return """
                    /// `\(member.name)` up to its first NUL byte, decoded as UTF-8 (invalid bytes are
                    /// replaced). Setting it stores at most \(count - 1) bytes of UTF-8 and zeroes the rest.
                    public var \(SwiftIdentifiers.escaped(property)): String {
                        get {
                            withUnsafeBytes(of: self) { bytes in
                                String(decoding: bytes[\(offset)..<\(offset + count)].prefix(while: { $0 != 0 }), as: UTF8.self)
                            }
                        }
                        set {
                            let utf8 = Array(newValue.utf8.prefix(\(count - 1)))
                            withUnsafeMutableBytes(of: &self) { bytes in
                                for index in 0..<\(count) { bytes[\(offset) + index] = index < utf8.count ? utf8[index] : 0 }
                            }
                        }
                    }

                """
        }
        let elementType = try swiftType(for: array.elementType)
        let stride = try size(of: array.elementType)
        guard stride > 0 else { return "" }
        let property = uniqueName(name + "Elements", &used)
        return """
                /// `\(member.name)`'s \(count) elements as an array.
                public var \(SwiftIdentifiers.escaped(property)): [\(elementType)] {
                    withUnsafeBytes(of: self) { bytes in
                        (0..<\(count)).map { bytes.loadUnaligned(fromByteOffset: \(offset) + $0 * \(stride), as: Array<\(elementType)>.Element.self) }
                    }
                }

            """
    }

    /// The members reachable by name through an anonymous struct or union member, with the Swift
    /// path to each from the containing struct.
    private func forwardedMembers(of id: BTFTypeID, path: String) throws(BTFError) -> [(name: String, path: String, type: String)] {
        let resolved = try spec.underlyingTypeID(of: id)
        let composite: BTFComposite
        switch try type(resolved) {
        case .struct(let value), .union(let value):
            guard value.name.isEmpty else { return [] }
            composite = value
        default:
            return []
        }
        var result: [(name: String, path: String, type: String)] = []
        for (index, member) in composite.members.enumerated() {
            let name = memberName(member, index: index)
            let memberPath = path + "." + SwiftIdentifiers.escaped(name)
            if member.name.isEmpty {
                if member.bitfieldSize == 0 { result += try forwardedMembers(of: member.type, path: memberPath) }
                continue
            }
            if let memberType = try accessorType(of: member) {
                result.append((name, memberPath, memberType))
            }
        }
        return result
    }

    /// The Swift type of a member's stored or computed property; nil when it gets none.
    private func accessorType(of member: BTFMember) throws(BTFError) -> String? {
        if member.bitfieldSize != 0 || member.bitOffset % 8 != 0 || isIntBitfield(member) {
            return try bitfieldValueType(member)?.type
        }
        return try size(of: member.type) > 0 ? try swiftType(for: member.type) : nil
    }

    /// The integer type a bitfield accessor reads and writes, and whether it is signed and a
    /// Boolean; nil for bitfields of types no accessor is written for.
    private func bitfieldValueType(_ member: BTFMember) throws(BTFError) -> (type: String, signed: Bool, isBool: Bool)? {
        switch try type(try spec.underlyingTypeID(of: member.type)) {
        case .int(let integer):
            let valueType = Self.integerType(integer)
            if valueType.hasPrefix("(") || valueType.hasSuffix("128") { return nil }
            return (valueType, integer.encoding.contains(.signed), valueType == "Bool")
        case .enum(let enumeration), .enum64(let enumeration):
            let signed = enumeration.isSigned
            switch enumeration.size {
            case 1: return (signed ? "Int8" : "UInt8", signed, false)
            case 2: return (signed ? "Int16" : "UInt16", signed, false)
            case 8: return (signed ? "Int64" : "UInt64", signed, false)
            default: return (signed ? "Int32" : "UInt32", signed, false)
            }
        default:
            return nil
        }
    }

    private func memberName(_ member: BTFMember, index: Int) -> String {
        member.name.isEmpty ? "anonymous\(index)" : SwiftIdentifiers.sanitized(member.name)
    }

    private func uniqueName(_ name: String, _ used: inout Set<String>) -> String {
        var candidate = name
        while used.contains(candidate) || candidate.hasPrefix("_pad") { candidate = "_" + candidate + "_" }
        used.insert(candidate)
        return candidate
    }

    private func isIntBitfield(_ member: BTFMember) -> Bool {
        guard member.bitfieldSize == 0, let resolved = try? spec.underlyingTypeID(of: member.type),
            case .int(let integer)? = try? type(resolved)
        else { return false }
        return Int(integer.bits) != Int(integer.size) * 8 || integer.offset != 0
    }

    /// Whether padding between the stored members can use units as large as `alignment`.
    private func paddingCanReach(_ alignment: Int, size: Int, storedMembers: Set<Int>, composite: BTFComposite) -> Bool {
        var cursor = 0
        for (index, member) in composite.members.enumerated() where storedMembers.contains(index) {
            let offset = Int(member.bitOffset / 8)
            if (cursor + alignment - 1) / alignment * alignment + alignment <= offset { return true }
            cursor = offset + ((try? self.size(of: member.type)) ?? 0)
        }
        return (cursor + alignment - 1) / alignment * alignment + alignment <= size
    }

    /// A computed property reading and writing a bitfield in the bytes that hold it (the
    /// little-endian bit order of x86-64 and bpfel).
    private func bitfieldAccessor(_ member: BTFMember, name: String) throws(BTFError) -> String {
        let resolved = try spec.underlyingTypeID(of: member.type)
        var width = Int(member.bitfieldSize)
        var bitOffset = Int(member.bitOffset)
        guard let (valueType, signed, isBool) = try bitfieldValueType(member) else { return "" }
        if width == 0, case .int(let integer) = try type(resolved) {
            width = Int(integer.bits)
            bitOffset += Int(integer.offset)
        }
        let firstByte = bitOffset / 8
        let shift = bitOffset % 8
        guard width > 0, shift + width <= 64 else { return "" }
        let byteCount = (shift + width + 7) / 8
        let mask = width == 64 ? "UInt64.max" : "(UInt64(1) << \(width) - 1)"
        let read = "var raw: UInt64 = 0\n"
            + "                for index in 0..<\(byteCount) { raw |= UInt64(bytes[\(firstByte) + index]) << (8 * index) }\n"
        let result: String
        if isBool {
            result = "(raw >> \(shift)) & \(mask) != 0"
        } else if signed {
            result = "\(valueType)(truncatingIfNeeded: Int64(bitPattern: raw << \(64 - shift - width)) >> \(64 - width))"
        } else {
            result = "\(valueType)(truncatingIfNeeded: (raw >> \(shift)) & \(mask))"
        }
        let newBits = isBool ? "UInt64(newValue ? 1 : 0)" : "UInt64(truncatingIfNeeded: newValue)"
        return """
                /// Bitfield of \(width) bits at bit \(bitOffset).
                public var \(SwiftIdentifiers.escaped(name)): \(valueType) {
                    get {
                        withUnsafeBytes(of: self) { bytes in
                            \(read)                return \(result)
                        }
                    }
                    set {
                        withUnsafeMutableBytes(of: &self) { bytes in
                            \(read)                raw = raw & ~(\(mask) << \(shift)) | (\(newBits) & \(mask)) << \(shift)
                            for index in 0..<\(byteCount) { bytes[\(firstByte) + index] = UInt8(truncatingIfNeeded: raw >> (8 * index)) }
                        }
                    }
                }

            """
    }
}
