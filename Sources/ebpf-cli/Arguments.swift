/// A command line split into a subcommand path, options and positional arguments.
///
/// Deliberately small: `--name value`, `--name=value`, boolean `--flag`, `-h`, and `--` to end
/// options. Which options take a value is declared by the command, so `--format c` and
/// `--verbose file.o` parse unambiguously.
struct Arguments: Equatable {
    var positionals: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    /// Splits `words` (without the program name) according to `valueOptions` (names without dashes)
    /// and `flagOptions`.
    init(_ words: [String], valueOptions: Set<String> = [], flagOptions: Set<String> = []) throws(UsageError) {
        var index = 0
        var optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            if word == "-h" {
                flags.insert("help")
                continue
            }
            guard word.hasPrefix("--") else { throw .unknownOption(word) }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if valueOptions.contains(name) {
                if let inlineValue {
                    options[name] = inlineValue
                } else if index < words.count {
                    options[name] = words[index]
                    index += 1
                } else {
                    throw .missingValue(option: "--" + name)
                }
            } else if flagOptions.contains(name) || name == "help" {
                guard inlineValue == nil else { throw .unexpectedValue(option: "--" + name) }
                flags.insert(name)
            } else {
                throw .unknownOption("--" + name)
            }
        }
    }
}

/// A command line the `ebpf` tool does not understand. Its description says what was wrong.
enum UsageError: Error, Equatable, CustomStringConvertible {
    case unknownCommand(String)
    case unknownOption(String)
    case missingValue(option: String)
    case unexpectedValue(option: String)
    case unexpectedArgument(String)
    case missingArgument(String)
    case invalidValue(option: String, value: String)

    var description: String {
        switch self {
        case .unknownCommand(let name): "unknown command '\(name)'"
        case .unknownOption(let option): "unknown option '\(option)'"
        case .missingValue(let option): "option '\(option)' needs a value"
        case .unexpectedValue(let option): "option '\(option)' takes no value"
        case .unexpectedArgument(let argument): "unexpected argument '\(argument)'"
        case .missingArgument(let what): "missing \(what)"
        case .invalidValue(let option, let value): "invalid value '\(value)' for option '\(option)'"
        }
    }
}
