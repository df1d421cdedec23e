/// Every type of a spec, decoded, indexed by id (`types[0]` is `void`; for split BTF the base's
/// types come first).
///
/// Building a graph checks that every reference is in range and that no cycle exists except
/// through pointers, so code walking it by value references always terminates.
public struct BTFTypeGraph: Hashable, Sendable {
    /// The types; index `i` holds the type with id `i`.
    public let types: [BTFType]
    /// The first id of the spec the graph was built for (1, or one past the base's last id).
    public let firstTypeID: BTFTypeID

    public init(types: [BTFType], firstTypeID: BTFTypeID = 1) {
        self.types = types
        self.firstTypeID = firstTypeID
    }

    /// The type with id `id`, or nil if the graph has no such id.
    public subscript(id: BTFTypeID) -> BTFType? {
        let index = Int(id.rawValue)
        return index < types.count ? types[index] : nil
    }

    /// The types of the spec itself (without the base's and without `void`), with their ids.
    public var ownTypes: ArraySlice<BTFType> { types[min(Int(firstTypeID.rawValue), types.count)...] }
}

extension BTFSpec {
    /// Decodes every type into a `BTFTypeGraph`, once; later calls return the same graph.
    ///
    /// Throws the first bad record (by id order), or `referenceCycle` for a loop of value
    /// references (a typedef or qualifier chain that loops, a struct containing itself).
    public func typeGraph() throws(BTFError) -> BTFTypeGraph {
        if let graph = lazy.withLock({ $0.graph }) { return graph }
        var types: [BTFType]
        if let base {
            types = try base.typeGraph().types
        } else {
            types = [.void]
        }
        types.reserveCapacity(Int(typeCount))
        switch byteOrder {
        case .littleEndian:
            try decodeAll(TypeDecoder<LittleEndianWords>(spec: self), into: &types)
            try checkForValueCycles(LittleEndianWords.self)
        case .bigEndian:
            try decodeAll(TypeDecoder<BigEndianWords>(spec: self), into: &types)
            try checkForValueCycles(BigEndianWords.self)
        }
        let graph = BTFTypeGraph(types: types, firstTypeID: firstTypeID)
        lazy.withLock { state in
            state.graph = graph
            state.decoded = [:]
        }
        return graph
    }

    private func decodeAll<R>(_ decoder: TypeDecoder<R>, into types: inout [BTFType]) throws(BTFError) {
        var id = firstTypeID
        for offset in offsets {
            types.append(try decoder.decode(id, at: typeSectionStart &+ Int(offset)))
            id.rawValue &+= 1
        }
    }

    /// Depth-first search over the references that are not pointers, read from the raw records,
    /// with an explicit stack so hostile input cannot exhaust the call stack. Base types are not
    /// revisited: a base never refers to the types of a spec split on top of it.
    func checkForValueCycles<R: WordReading>(_: R.Type) throws(BTFError) {
        let count = offsets.count
        guard count > 0 else { return }
        let first = Int(firstTypeID.rawValue)
        let types = UnsafeRawPointer(storage.base) + typeSectionStart
        // 0: not seen, 1: on the current path, 2: done. The path never holds a type twice, so
        // `count` frames are enough.
        let state = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
        state.initialize(repeating: 0)
        let pathIndex = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: count)
        let pathNext = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: count)
        defer {
            state.deallocate()
            pathIndex.deallocate()
            pathNext.deallocate()
        }
        try offsets.withUnsafeBufferPointer { (offsets) throws(BTFError) in
            for start in 0..<count where state[start] == 0 {
                state[start] = 1
                pathIndex[0] = UInt32(truncatingIfNeeded: start)
                pathNext[0] = 0
                var depth = 1
                while depth > 0 {
                    let top = depth - 1
                    let index = Int(pathIndex[top])
                    let next = Int(pathNext[top])
                    guard let target = Self.valueReference(R.self, types, Int(offsets[index]), next) else {
                        state[index] = 2
                        depth = top
                        continue
                    }
                    pathNext[top] = UInt32(truncatingIfNeeded: next + 1)
                    let targetIndex = Int(target) &- first
                    guard targetIndex >= 0, targetIndex < count else { continue }
                    switch state[targetIndex] {
                    case 0:
                        guard depth < count else { continue }
                        state[targetIndex] = 1
                        pathIndex[depth] = UInt32(truncatingIfNeeded: targetIndex)
                        pathNext[depth] = 0
                        depth += 1
                    case 1:
                        let id = BTFTypeID(target)
                        throw .referenceCycle(id: id, offset: recordOffset(id) ?? 0)
                    default:
                        break
                    }
                }
            }
        }
    }

    /// The `index`th type a record refers to by value (not through a pointer), or nil past the last.
    @inline(__always)
    private static func valueReference<R: WordReading>(
        _: R.Type, _ types: UnsafeRawPointer, _ record: Int, _ index: Int
    ) -> UInt32? {
        let info = R.word(types, record + 4)
        let vlen = Int(info & 0xFFFF)
        switch (info >> 24) & 0x1F {
        case 8, 9, 10, 11, 12, 14, 17, 18:  // typedef, qualifiers, func, var, decl_tag, type_tag
            return index == 0 ? R.word(types, record + 8) : nil
        case 3:  // array: element, index type
            return index < 2 ? R.word(types, record + 12 + index * 4) : nil
        case 4, 5:  // struct, union: member types
            return index < vlen ? R.word(types, record + 12 + index * 12 + 4) : nil
        case 13:  // function prototype: return type, parameter types
            if index == 0 { return R.word(types, record + 8) }
            return index <= vlen ? R.word(types, record + 12 + (index - 1) * 8 + 4) : nil
        case 15:  // data section: variables
            return index < vlen ? R.word(types, record + 12 + index * 12) : nil
        default:
            return nil
        }
    }

    // MARK: - Following references

    /// Follows typedefs, `const`, `volatile`, `restrict` and type tags from `id` to the type they
    /// name. Throws `referenceCycle` if the chain loops.
    public func underlyingTypeID(of id: BTFTypeID) throws(BTFError) -> BTFTypeID {
        var current = id
        var steps: UInt32 = 0
        while true {
            switch try type(current) {
            case .typedef(let t): current = t.type
            case .volatile(let t), .const(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            default: return current
            }
            steps &+= 1
            guard steps <= typeCount else {
                throw .referenceCycle(id: id, offset: recordOffset(id) ?? 0)
            }
        }
    }

    /// The size in bytes of a value of type `id`, following typedefs, qualifiers and arrays.
    /// Nil for types without a size (void, functions, forward declarations).
    public func size(of id: BTFTypeID) throws(BTFError) -> UInt64? {
        var current = id
        var multiplier: UInt64 = 1
        var steps: UInt32 = 0
        func scaled(_ size: UInt64, at id: BTFTypeID) throws(BTFError) -> UInt64 {
            let (product, overflow) = multiplier.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw .invalidType(id: id, offset: recordOffset(id) ?? 0, reason: "size overflows 64 bits")
            }
            return product
        }
        while true {
            switch try type(current) {
            case .int(let t): return try scaled(UInt64(t.size), at: current)
            case .pointer: return try scaled(8, at: current)
            case .struct(let t), .union(let t): return try scaled(UInt64(t.size), at: current)
            case .enum(let t), .enum64(let t): return try scaled(UInt64(t.size), at: current)
            case .float(let t): return try scaled(UInt64(t.size), at: current)
            case .dataSection(let t): return try scaled(UInt64(t.size), at: current)
            case .array(let t):
                multiplier = try scaled(UInt64(t.count), at: current)
                current = t.elementType
            case .typedef(let t): current = t.type
            case .volatile(let t), .const(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            case .variable(let t): current = t.type
            case .void, .forward, .function, .functionPrototype, .declarationTag: return nil
            }
            steps &+= 1
            guard steps <= typeCount else {
                throw .referenceCycle(id: id, offset: recordOffset(id) ?? 0)
            }
        }
    }
}
