import Glibc

extension BTFSpec {
    /// The type with id `id`, decoded on first use and remembered.
    ///
    /// Throws `noSuchType` for an id past the last type, and a positioned error when the record
    /// refers to a string or type that does not exist.
    public func type(_ id: BTFTypeID) throws(BTFError) -> BTFType {
        if id == .void { return .void }
        if id < firstTypeID {
            guard let base else { throw .noSuchType(id) }
            return try base.type(id)
        }
        guard let offset = recordOffset(id) else { throw .noSuchType(id) }
        let cached: BTFType? = lazy.withLock { state in
            if let graph = state.graph { return graph.types[Int(id.rawValue)] }
            return state.decoded[id.rawValue]
        }
        if let cached { return cached }
        let decoded: BTFType
        switch byteOrder {
        case .littleEndian: decoded = try TypeDecoder<LittleEndianWords>(spec: self).decode(id, at: offset)
        case .bigEndian: decoded = try TypeDecoder<BigEndianWords>(spec: self).decode(id, at: offset)
        }
        lazy.withLock { $0.decoded[id.rawValue] = decoded }
        return decoded
    }

    /// The name of type `id`, read without decoding the type.
    public func name(of id: BTFTypeID) throws(BTFError) -> String {
        if id == .void { return "" }
        guard let offset = recordOffset(id) else {
            if id < firstTypeID, let base { return try base.name(of: id) }
            throw .noSuchType(id)
        }
        // The index pass checked the name offset.
        return string(at: word(at: offset)) ?? ""
    }
}

/// Decodes type records of one spec in one byte order.
struct TypeDecoder<R: WordReading> {
    let spec: BTFSpec
    let base: UnsafeRawPointer
    let typeCount: UInt32

    init(spec: BTFSpec) {
        self.spec = spec
        base = UnsafeRawPointer(spec.storage.base)
        typeCount = spec.typeCount
    }

    @inline(__always)
    func word(_ offset: Int) -> UInt32 { R.word(base, offset) }

    /// The string at the string offset stored at `field`.
    @inline(__always)
    func name(at field: Int, of id: BTFTypeID) throws(BTFError) -> String {
        let stringOffset = word(field)
        if stringOffset == 0 { return "" }
        guard let pointer = spec.cString(at: stringOffset) else {
            throw .stringOffsetOutOfRange(
                id: id, offset: field, stringOffset: stringOffset, stringSectionLength: spec.totalStringLength)
        }
        if pointer.pointee == 0 { return "" }
        let length = strlen(pointer)
        return String(
            decoding: UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: length), as: UTF8.self)
    }

    /// The type id stored at `field`, checked against the number of types.
    @inline(__always)
    func typeID(at field: Int, of id: BTFTypeID) throws(BTFError) -> BTFTypeID {
        let referenced = word(field)
        guard referenced < typeCount else {
            throw .typeIDOutOfRange(id: id, offset: field, referenced: BTFTypeID(referenced), typeCount: typeCount)
        }
        return BTFTypeID(referenced)
    }

    func decode(_ id: BTFTypeID, at offset: Int) throws(BTFError) -> BTFType {
        let info = word(offset + 4)
        let kind = UInt8(truncatingIfNeeded: (info >> 24) & 0x1F)
        let vlen = Int(info & 0xFFFF)
        let kindFlag = info >> 31 != 0
        let sizeOrType = offset + 8
        let trailing = offset + 12
        switch kind {
        case 1:
            let size = word(sizeOrType)
            let encoded = word(trailing)
            let bits = UInt8(truncatingIfNeeded: encoded)
            let bitOffset = UInt8(truncatingIfNeeded: encoded >> 16)
            guard bits <= 128,
                UInt64(bitOffset) + UInt64(bits) <= UInt64(size) * 8
            else {
                throw .invalidType(id: id, offset: trailing, reason: "int of \(size) bytes with \(bits) bits at bit \(bitOffset)")
            }
            return .int(
                BTFInt(
                    name: try name(at: offset, of: id), size: size,
                    encoding: BTFIntEncoding(rawValue: UInt8(truncatingIfNeeded: (encoded >> 24) & 0x0F)),
                    offset: bitOffset, bits: bits))
        case 2:
            return .pointer(BTFPointer(target: try typeID(at: sizeOrType, of: id)))
        case 3:
            return .array(
                BTFArray(
                    elementType: try typeID(at: trailing, of: id), indexType: try typeID(at: trailing + 4, of: id),
                    count: word(trailing + 8)))
        case 4, 5:
            var members: [BTFMember] = []
            members.reserveCapacity(vlen)
            var field = trailing
            for _ in 0..<vlen {
                let rawOffset = word(field + 8)
                members.append(
                    BTFMember(
                        name: try name(at: field, of: id), type: try typeID(at: field + 4, of: id),
                        bitOffset: kindFlag ? rawOffset & 0x00FF_FFFF : rawOffset,
                        bitfieldSize: kindFlag ? UInt8(truncatingIfNeeded: rawOffset >> 24) : 0))
                field += 12
            }
            let composite = BTFComposite(name: try name(at: offset, of: id), size: word(sizeOrType), members: members)
            return kind == 4 ? .struct(composite) : .union(composite)
        case 6, 19:
            let is64 = kind == 19
            var values: [BTFEnumValue] = []
            values.reserveCapacity(vlen)
            var field = trailing
            for _ in 0..<vlen {
                let low = word(field + 4)
                let value: UInt64
                if is64 {
                    value = UInt64(word(field + 8)) << 32 | UInt64(low)
                } else {
                    value = kindFlag ? UInt64(bitPattern: Int64(Int32(bitPattern: low))) : UInt64(low)
                }
                values.append(BTFEnumValue(name: try name(at: field, of: id), value: value))
                field += is64 ? 12 : 8
            }
            let decoded = BTFEnum(
                name: try name(at: offset, of: id), size: word(sizeOrType), isSigned: kindFlag, values: values)
            return is64 ? .enum64(decoded) : .enum(decoded)
        case 7:
            return .forward(BTFForward(name: try name(at: offset, of: id), isUnion: kindFlag))
        case 8:
            return .typedef(BTFTypedef(name: try name(at: offset, of: id), type: try typeID(at: sizeOrType, of: id)))
        case 9:
            return .volatile(BTFQualifier(type: try typeID(at: sizeOrType, of: id)))
        case 10:
            return .const(BTFQualifier(type: try typeID(at: sizeOrType, of: id)))
        case 11:
            return .restrict(BTFQualifier(type: try typeID(at: sizeOrType, of: id)))
        case 12:
            return .function(
                BTFFunction(
                    name: try name(at: offset, of: id), prototype: try typeID(at: sizeOrType, of: id),
                    linkage: BTFLinkage(rawValue: UInt32(vlen))))
        case 13:
            var parameters: [BTFParameter] = []
            parameters.reserveCapacity(vlen)
            var field = trailing
            for _ in 0..<vlen {
                parameters.append(BTFParameter(name: try name(at: field, of: id), type: try typeID(at: field + 4, of: id)))
                field += 8
            }
            return .functionPrototype(
                BTFFunctionPrototype(returnType: try typeID(at: sizeOrType, of: id), parameters: parameters))
        case 14:
            let linkage = word(trailing)
            guard linkage <= 2 else {
                throw .invalidType(id: id, offset: trailing, reason: "variable linkage \(linkage)")
            }
            return .variable(
                BTFVariable(
                    name: try name(at: offset, of: id), type: try typeID(at: sizeOrType, of: id),
                    linkage: BTFLinkage(rawValue: linkage)))
        case 15:
            var variables: [BTFVariableSectionInfo] = []
            variables.reserveCapacity(vlen)
            var field = trailing
            for _ in 0..<vlen {
                variables.append(
                    BTFVariableSectionInfo(type: try typeID(at: field, of: id), offset: word(field + 4), size: word(field + 8)))
                field += 12
            }
            return .dataSection(
                BTFDataSection(name: try name(at: offset, of: id), size: word(sizeOrType), variables: variables))
        case 16:
            return .float(BTFFloat(name: try name(at: offset, of: id), size: word(sizeOrType)))
        case 17:
            let component = Int32(bitPattern: word(trailing))
            guard component >= -1 else {
                throw .invalidType(id: id, offset: trailing, reason: "declaration tag component index \(component)")
            }
            return .declarationTag(
                BTFDeclarationTag(
                    name: try name(at: offset, of: id), type: try typeID(at: sizeOrType, of: id),
                    componentIndex: component, isAttribute: kindFlag))
        case 18:
            return .typeTag(
                BTFTypeTag(
                    name: try name(at: offset, of: id), type: try typeID(at: sizeOrType, of: id), isAttribute: kindFlag))
        default:
            // The index pass rejects unknown kinds; keep the decoder total anyway.
            throw .unknownKind(id: id, offset: offset, kind: kind)
        }
    }
}
