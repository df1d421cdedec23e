import Glibc

extension BTFSpec {
    /// The id of the first type named `name` of kind `kind`, looking in the base first; nil if none.
    ///
    /// Compares the raw string bytes in place, decoding nothing. The first lookup scans the types;
    /// later ones use a name index built once on the second lookup (or by `indexNames()`).
    public func typeID(named name: String, kind: BTFKind) -> BTFTypeID? {
        if let base, let found = base.typeID(named: name, kind: kind) { return found }
        var query = name
        return query.withUTF8 { bytes in
            guard !bytes.contains(0) else { return nil }
            if let index = nameIndexForLookup() {
                var found: BTFTypeID?
                index.forEachCandidate(bytes, in: self) { id in
                    guard (try? kindAndVlen(of: id).kind) == kind else { return true }
                    found = found.map { min($0, id) } ?? id
                    return true
                }
                return found
            }
            switch byteOrder {
            case .littleEndian: return scan(LittleEndianWords.self, for: bytes, kind: kind)
            case .bigEndian: return scan(BigEndianWords.self, for: bytes, kind: kind)
            }
        }
    }

    /// The ids of all types named `name`, of any kind, base types first. Builds the name index.
    public func typeIDs(named name: String) -> [BTFTypeID] {
        var result = base?.typeIDs(named: name) ?? []
        var query = name
        let index = indexNames()
        query.withUTF8 { bytes in
            guard !bytes.contains(0) else { return }
            var own: [BTFTypeID] = []
            index.forEachCandidate(bytes, in: self) { id in
                own.append(id)
                return true
            }
            result += own.sorted()
        }
        return result
    }

    /// Builds the name index now (it is otherwise built on the second name lookup) and returns it.
    @discardableResult
    func indexNames() -> NameIndex {
        if let index = lazy.withLock({ $0.nameIndex }) { return index }
        let index: NameIndex
        switch byteOrder {
        case .littleEndian: index = NameIndex(spec: self, LittleEndianWords.self)
        case .bigEndian: index = NameIndex(spec: self, BigEndianWords.self)
        }
        lazy.withLock { $0.nameIndex = index }
        return index
    }

    /// Builds the name index eagerly, so that every lookup by name uses it.
    public func buildNameIndex() { indexNames() }

    private func nameIndexForLookup() -> NameIndex? {
        let (existing, lookups) = lazy.withLock { state in
            state.nameLookups &+= 1
            return (state.nameIndex, state.nameLookups)
        }
        if let existing { return existing }
        return lookups > 1 ? indexNames() : nil
    }

    /// Linear scan of the own types comparing kind first, then the name bytes in place.
    private func scan<R: WordReading>(_: R.Type, for query: UnsafeBufferPointer<UInt8>, kind: BTFKind) -> BTFTypeID? {
        let blob = UnsafeRawPointer(storage.base)
        let types = blob + typeSectionStart
        let wantedKind = UInt32(kind.rawValue)
        let count = query.count
        guard let queryStart = query.baseAddress else {
            // The empty name: the first anonymous type of that kind.
            for (index, offset) in offsets.enumerated() {
                let record = Int(offset)
                if (R.word(types, record + 4) >> 24) & 0x1F == wantedKind, R.word(types, record) == 0 {
                    return BTFTypeID(firstTypeID.rawValue &+ UInt32(index))
                }
            }
            return nil
        }
        let firstByte = CChar(bitPattern: queryStart[0])
        let queryChars = UnsafeRawPointer(queryStart).assumingMemoryBound(to: CChar.self)
        var index = 0
        for offset in offsets {
            let record = Int(offset)
            if (R.word(types, record + 4) >> 24) & 0x1F == wantedKind,
                let candidate = cString(at: R.word(types, record)),
                candidate.pointee == firstByte,
                strncmp(candidate, queryChars, count) == 0, candidate[count] == 0
            {
                return BTFTypeID(firstTypeID.rawValue &+ UInt32(truncatingIfNeeded: index))
            }
            index &+= 1
        }
        return nil
    }
}

/// An open-addressing hash table from name to the own type ids with that name, over the raw
/// string bytes; anonymous types are left out. Slots hold ids (never 0, which is `void`).
struct NameIndex: Sendable {
    let slots: [UInt32]
    let mask: Int

    init<R: WordReading>(spec: BTFSpec, _: R.Type) {
        var capacity = 16
        while capacity < spec.offsets.count * 2 { capacity &<<= 1 }
        let mask = capacity - 1
        var slots = [UInt32](repeating: 0, count: capacity)
        let types = UnsafeRawPointer(spec.storage.base) + spec.typeSectionStart
        var id = spec.firstTypeID.rawValue
        for offset in spec.offsets {
            defer { id &+= 1 }
            let nameOffset = R.word(types, Int(offset))
            guard nameOffset != 0, let name = spec.cString(at: nameOffset), name.pointee != 0 else { continue }
            var slot = Int(Self.hash(name, count: strlen(name))) & mask
            while slots[slot] != 0 { slot = (slot &+ 1) & mask }
            slots[slot] = id
        }
        self.slots = slots
        self.mask = mask
    }

    /// FNV-1a over the bytes.
    @inline(__always)
    static func hash(_ bytes: UnsafePointer<CChar>, count: Int) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for index in 0..<count {
            hash = (hash ^ UInt32(UInt8(bitPattern: bytes[index]))) &* 16_777_619
        }
        return hash
    }

    /// Calls `body` with each own type named `query` until it returns false.
    func forEachCandidate(_ query: UnsafeBufferPointer<UInt8>, in spec: BTFSpec, _ body: (BTFTypeID) -> Bool) {
        guard let start = query.baseAddress, !query.isEmpty else { return }
        let chars = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
        var slot = Int(Self.hash(chars, count: query.count)) & mask
        while slots[slot] != 0 {
            let id = BTFTypeID(slots[slot])
            if let offset = spec.recordOffset(id), let name = spec.cString(at: spec.word(at: offset)),
                strncmp(name, chars, query.count) == 0, name[query.count] == 0
            {
                guard body(id) else { return }
            }
            slot = (slot &+ 1) & mask
        }
    }
}
