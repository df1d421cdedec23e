extension BTFBlobEditor {
    /// Replaces every kind and flag outside `supported` in place, with the same replacements as
    /// `BTFTypeGraph.sanitized(for:)` (see there): each replacement has the size of the record it
    /// replaces, so ids and offsets stay. A replacement int for enum64 members is appended when
    /// needed; replacement names (`_param<n>`, data section names without `.` and `?`) are
    /// appended to the string table.
    public mutating func sanitize(for supported: BTFFeatures) throws(BTFMarshalError) {
        let missing = BTFFeatures.all.subtracting(supported)
        guard !missing.isEmpty else { return }
        var enum64Placeholder: BTFTypeID?
        let end = nextTypeID
        var id = firstTypeID
        while id < end {
            defer { id.rawValue &+= 1 }
            guard let kind = kind(of: id), let info = word(1, of: id) else { continue }
            let vlen = Int(info & 0xFFFF)
            let kindFlag = info & (1 << 31) != 0
            switch kind {
            case .variable where missing.contains(.dataSections),
                .declarationTag where missing.contains(.declarationTags):
                // A 1-byte int of the same name: no encoding, offset 0, 8 bits.
                setInfo(kind: .int, vlen: 0, of: id)
                setWord(1, 2, of: id)
                setWord(8, 3, of: id)
            case .dataSection where missing.contains(.dataSections):
                let name = string(at: word(0, of: id) ?? 0) ?? ""
                if name.contains(where: { $0 == "." || $0 == "?" }) {
                    let replaced = String(name.map { $0 == "." || $0 == "?" ? "_" : $0 })
                    setWord(try addString(replaced), 0, of: id)
                }
                setInfo(kind: .struct, vlen: vlen, of: id)
                for position in 0..<vlen {
                    // Entry (type, offset, size) becomes member (name of the type, type, bit offset).
                    let base = 3 &+ position &* 3
                    let type = BTFTypeID(rawValue: word(base, of: id) ?? 0)
                    let offset = word(base &+ 1, of: id) ?? 0
                    setWord(nameOffset(of: type) ?? 0, base, of: id)
                    setWord(type.rawValue, base &+ 1, of: id)
                    setWord(offset &* 8, base &+ 2, of: id)
                }
            case .functionPrototype where missing.contains(.functions):
                // Parameters (name, type) become enumerators (name, type id as the value).
                setInfo(kind: .enum, vlen: vlen, of: id)
                setWord(0, 0, of: id)
                setWord(4, 2, of: id)
                for position in 0..<vlen {
                    let base = 3 &+ position &* 2
                    if isEmptyString(at: word(base, of: id) ?? 0) {
                        setWord(try addString("_param\(position)"), base, of: id)
                    }
                }
            case .function where missing.contains(.functions):
                setInfo(kind: .typedef, vlen: 0, of: id)
            case .function where missing.contains(.globalFunctions):
                setInfo(kind: .function, vlen: 0, of: id)
            case .float where missing.contains(.floats):
                setWord(0, 0, of: id)
                setInfo(kind: .struct, vlen: 0, of: id)
            case .typeTag where missing.contains(.typeTags):
                setWord(0, 0, of: id)
                setInfo(kind: .const, vlen: 0, of: id)
            case .enum where missing.contains(.enum64) && kindFlag:
                // The wire keeps the same 32 bits; only their reading changes.
                setInfo(kind: .enum, vlen: vlen, of: id)
            case .enum64 where missing.contains(.enum64):
                let placeholder: BTFTypeID
                if let existing = enum64Placeholder {
                    placeholder = existing
                } else {
                    placeholder = try appendRecord(
                        nameOffset: try addString("enum64_placeholder"), kind: .int, sizeOrType: 1, trailing: [8])
                    enum64Placeholder = placeholder
                }
                setInfo(kind: .union, vlen: vlen, of: id)
                for position in 0..<vlen {
                    // Enumerator (name, low, high) becomes member (name, placeholder, offset 0).
                    let base = 3 &+ position &* 3
                    setWord(placeholder.rawValue, base &+ 1, of: id)
                    setWord(0, base &+ 2, of: id)
                }
            default:
                break
            }
        }
    }
}
