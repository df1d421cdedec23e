extension BTFBuilder {
    /// A builder holding the own types of `graph` under the ids they have there, with strings
    /// deduplicated and types not (ids must stay as they are: `.BTF.ext` records, map definitions
    /// and CO-RE relocations refer to them).
    ///
    /// `base` must be the spec `graph` was split from, when it was; its types are not copied.
    public init(graph: BTFTypeGraph, base: BTFSpec? = nil) throws(BTFMarshalError) {
        if let base {
            self.init(base: base, deduplicatingTypes: false)
        } else {
            self.init(deduplicatingTypes: false)
        }
        guard firstTypeID == graph.firstTypeID else {
            throw .typeIDOutOfRange(id: graph.firstTypeID, referenced: graph.firstTypeID, typeCount: firstTypeID.rawValue)
        }
        for type in graph.ownTypes {
            let expected = nextTypeID
            let id = try add(type)
            // Adding `.void` gives id 0 and no record; that would shift every later id.
            guard id == expected else {
                throw .decoding(.invalidType(id: expected, offset: 0, reason: "a type of kind void"))
            }
        }
    }
}

extension BTFTypeGraph {
    /// The graph's own types as a BTF blob in `byteOrder`, every type under the id it has here.
    public func marshal(byteOrder: BTFByteOrder = .host, base: BTFSpec? = nil) throws(BTFMarshalError) -> [UInt8] {
        try BTFBuilder(graph: self, base: base).bytes(byteOrder: byteOrder)
    }
}

extension BTFSpec {
    /// The spec as a fresh BTF blob in `byteOrder`, written from its decoded type graph (not copied
    /// from the bytes it was read from), for instance to load it with `BTFHandle`.
    ///
    /// The result has the same types under the same ids; string offsets differ, since the string
    /// table is rebuilt with each string once.
    public func marshal(byteOrder: BTFByteOrder = .host) throws(BTFMarshalError) -> [UInt8] {
        let graph: BTFTypeGraph
        do {
            graph = try typeGraph()
        } catch {
            throw .decoding(error)
        }
        return try graph.marshal(byteOrder: byteOrder, base: base)
    }
}
