/// Turning C symbol names into Swift property names.
///
/// `snake_case` becomes `lowerCamelCase` (`kprobe_execve` -> `kprobeExecve`, `__u32_map` ->
/// `u32Map`). Characters Swift does not allow become `_`; a name starting with a digit gets a
/// leading `_`; Swift keywords are escaped with backticks where they are declared. Names that
/// collide are made unique predictably (see ``NameTable``).
enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol", "consume", "copy", "borrowing", "consuming",
    ]

    static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
    }

    static func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
        isIdentifierStart(scalar) || (scalar >= "0" && scalar <= "9")
    }

    /// Whether `name` is usable as a Swift identifier without backticks (ASCII only).
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isIdentifierStart(first) else { return false }
        return name.unicodeScalars.allSatisfy(isIdentifierPart) && !keywords.contains(name)
    }

    /// The lowerCamelCase Swift name for C name `name`.
    static func camelCased(_ name: String) -> String {
        var words: [String] = []
        var current = ""
        for scalar in name.unicodeScalars {
            if isIdentifierPart(scalar) && scalar != "_" {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        guard let first = words.first else { return "_" }
        var result = lowercasedFirst(first)
        for word in words.dropFirst() { result += uppercasedFirst(word) }
        if let leading = result.unicodeScalars.first, leading >= "0" && leading <= "9" { result = "_" + result }
        return result
    }

    /// `word` with its first letter lowercased, unless it is an all-caps acronym (`PID` stays
    /// `PID` inside a name but starts one as `pid`).
    static func lowercasedFirst(_ word: String) -> String {
        if word.unicodeScalars.allSatisfy({ !($0 >= "a" && $0 <= "z") }) { return word.lowercased() }
        guard let first = word.first else { return word }
        return first.lowercased() + word.dropFirst()
    }

    static func uppercasedFirst(_ word: String) -> String {
        guard let first = word.first else { return word }
        return first.uppercased() + word.dropFirst()
    }

    /// `name` in backticks when it is a keyword.
    static func escaped(_ name: String) -> String { keywords.contains(name) ? "`\(name)`" : name }
}

/// Assigns unique Swift names in one scope, recording every name that is not the plain
/// camel-cased C name so bpf2swift can report it.
///
/// Names are given in a fixed order (the caller sorts its symbols), so the same object always gets
/// the same names: the first symbol keeps its camel-cased name, a later one that collides gets the
/// suffix for its kind (`Map`, `Program`, `Variable`), then a number from 2.
struct NameTable {
    struct Renaming: Equatable, CustomStringConvertible {
        var kind: String
        var cName: String
        var swiftName: String
        var reason: String
        var description: String { "\(kind) \(cName) is \(swiftName) in Swift (\(reason))" }
    }

    private(set) var taken: Set<String>
    private(set) var renamings: [Renaming] = []

    init(reserved: Set<String>) { taken = reserved }

    mutating func assign(cName: String, kind: String, suffix: String) -> String {
        let natural = SwiftNames.camelCased(cName)
        var candidate = natural
        if taken.contains(candidate) {
            candidate = natural + suffix
            var counter = 2
            while taken.contains(candidate) {
                candidate = natural + suffix + String(counter)
                counter += 1
            }
            renamings.append(Renaming(kind: kind, cName: cName, swiftName: candidate, reason: "\(natural) is taken"))
        } else if !isPlainConversion(cName) {
            renamings.append(
                Renaming(kind: kind, cName: cName, swiftName: candidate, reason: "the C name is not a Swift identifier"))
        }
        taken.insert(candidate)
        return candidate
    }

    /// Whether the C name only needed snake_case turned into camelCase (not worth reporting).
    private func isPlainConversion(_ cName: String) -> Bool {
        guard let first = cName.unicodeScalars.first, SwiftNames.isIdentifierStart(first) else { return false }
        return cName.unicodeScalars.allSatisfy(SwiftNames.isIdentifierPart)
    }
}
