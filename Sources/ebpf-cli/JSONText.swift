/// A JSON value the introspection verbs print; members keep their order so output matches
/// bpftool's field order and is stable for tests.
indirect enum JSONText: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONText])
    case object([(String, JSONText)])
    /// Text that is already JSON (a decoded BTF value).
    case raw(String)

    static func int<Integer: BinaryInteger>(_ value: Integer) -> JSONText { .number(String(value)) }

    var rendered: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .number(let text): text
        case .string(let text): Inspect.string(text)
        case .array(let elements): "[" + elements.map(\.rendered).joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { Inspect.string($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        case .raw(let text): text
        }
    }

    static func == (lhs: JSONText, rhs: JSONText) -> Bool { lhs.rendered == rhs.rendered }
}
