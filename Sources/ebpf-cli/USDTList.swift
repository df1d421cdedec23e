import EBPF

/// `ebpf usdt list PATH [--json]`: the USDT probes of a binary.
enum USDTList {
    /// One line per probe: provider:name, address and file offset, semaphore, arguments.
    static func text(_ probes: [USDTProbe]) -> String {
        guard !probes.isEmpty else { return "no USDT probes" }
        return probes.map { probe in
            var line = "\(probe.provider):\(probe.name) address=\(hex(probe.address)) offset=\(hex(probe.fileOffset))"
            if let semaphore = probe.semaphoreAddress, let offset = probe.semaphoreFileOffset {
                line += " semaphore=\(hex(semaphore)) semaphore_offset=\(hex(offset))"
            }
            if let arguments = probe.arguments {
                line += " args=[\(arguments.map(describe).joined(separator: ", "))]"
            } else {
                line += " args=\(probe.argumentText) (\(probe.argumentError?.reason ?? "unparsed"))"
            }
            return line
        }.joined(separator: "\n")
    }

    /// An array of `{"provider", "name", "address", "semaphore", "arguments"}` (plus the file
    /// offsets); `semaphore` is null for probes without one, `arguments` null with an
    /// `argument_error` when they cannot be expressed.
    static func json(_ probes: [USDTProbe]) -> String {
        "[" + probes.map { probe in
            var members: [(String, String)] = [
                ("provider", Inspect.string(probe.provider)), ("name", Inspect.string(probe.name)),
                ("address", String(probe.address)), ("offset", String(probe.fileOffset)),
                ("semaphore", probe.semaphoreAddress.map { String($0) } ?? "null"),
                ("semaphore_offset", probe.semaphoreFileOffset.map { String($0) } ?? "null"),
                ("argument_string", Inspect.string(probe.argumentText)),
            ]
            if let arguments = probe.arguments {
                members.append(("arguments", "[" + arguments.map(jsonArgument).joined(separator: ",") + "]"))
            } else {
                members.append(("arguments", "null"))
                members.append(("argument_error", Inspect.string(probe.argumentError?.reason ?? "unparsed")))
            }
            return object(members)
        }.joined(separator: ",") + "]"
    }

    /// `u64 rbx`, `s32 *(rsp+112)`, `s32 $5`.
    static func describe(_ argument: USDTArgument) -> String {
        let type = "\(argument.isSigned ? "s" : "u")\(argument.size * 8)"
        switch argument.location {
        case .constant(let value): return "\(type) $\(value)"
        case .register(let name, _): return "\(type) \(name)"
        case .memory(let register, _, let displacement):
            if displacement == 0 { return "\(type) *(\(register))" }
            return "\(type) *(\(register)\(displacement < 0 ? "-" : "+")\(displacement.magnitude))"
        }
    }

    static func jsonArgument(_ argument: USDTArgument) -> String {
        var members: [(String, String)] = [
            ("text", Inspect.string(argument.text)), ("size", String(argument.size)),
            ("signed", argument.isSigned ? "true" : "false"),
        ]
        switch argument.location {
        case .constant(let value):
            members += [("kind", Inspect.string("constant")), ("value", String(value))]
        case .register(let name, _):
            members += [("kind", Inspect.string("register")), ("register", Inspect.string(name))]
        case .memory(let register, _, let displacement):
            members += [
                ("kind", Inspect.string("memory")), ("register", Inspect.string(register)),
                ("displacement", String(displacement)),
            ]
        }
        return object(members)
    }

    private static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { Inspect.string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    private static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
