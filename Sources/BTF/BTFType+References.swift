extension BTFType {
    /// The type with every reference it holds (those `reference(at:)` lists) replaced by
    /// `transform` of it; nil as soon as `transform` returns nil. Used to copy types between specs,
    /// where ids differ.
    public func mappingReferences(_ transform: (BTFTypeID) throws -> BTFTypeID?) rethrows -> BTFType? {
        switch self {
        case .void, .int, .enum, .enum64, .forward, .float:
            return self
        case .pointer(var t):
            guard let target = try transform(t.target) else { return nil }
            t.target = target
            return .pointer(t)
        case .array(var t):
            guard let element = try transform(t.elementType), let index = try transform(t.indexType) else { return nil }
            t.elementType = element
            t.indexType = index
            return .array(t)
        case .struct(var t):
            guard let members = try Self.mapping(t.members, transform) else { return nil }
            t.members = members
            return .struct(t)
        case .union(var t):
            guard let members = try Self.mapping(t.members, transform) else { return nil }
            t.members = members
            return .union(t)
        case .typedef(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .typedef(t)
        case .volatile(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .volatile(t)
        case .const(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .const(t)
        case .restrict(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .restrict(t)
        case .typeTag(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .typeTag(t)
        case .function(var t):
            guard let prototype = try transform(t.prototype) else { return nil }
            t.prototype = prototype
            return .function(t)
        case .functionPrototype(var t):
            guard let returnType = try transform(t.returnType) else { return nil }
            t.returnType = returnType
            for index in t.parameters.indices {
                guard let type = try transform(t.parameters[index].type) else { return nil }
                t.parameters[index].type = type
            }
            return .functionPrototype(t)
        case .variable(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .variable(t)
        case .dataSection(var t):
            for index in t.variables.indices {
                guard let type = try transform(t.variables[index].type) else { return nil }
                t.variables[index].type = type
            }
            return .dataSection(t)
        case .declarationTag(var t):
            guard let type = try transform(t.type) else { return nil }
            t.type = type
            return .declarationTag(t)
        }
    }

    private static func mapping(
        _ members: [BTFMember], _ transform: (BTFTypeID) throws -> BTFTypeID?
    ) rethrows -> [BTFMember]? {
        var result = members
        for index in result.indices {
            guard let type = try transform(result[index].type) else { return nil }
            result[index].type = type
        }
        return result
    }
}
