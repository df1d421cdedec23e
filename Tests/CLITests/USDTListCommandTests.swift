import Foundation
import Glibc
import Testing

@testable import ebpf

/// `ebpf usdt list PATH [--json]`.
@Suite("ebpf usdt list")
struct USDTListCommandTests {
    @Test func parses() throws {
        #expect(try EBPFTool.parse(["usdt", "list", "/bin/x"]) == .usdtList(path: "/bin/x", json: false))
        #expect(try EBPFTool.parse(["usdt", "list", "/bin/x", "--json"]) == .usdtList(path: "/bin/x", json: true))
        #expect(throws: UsageError.missingArgument("PATH")) { try EBPFTool.parse(["usdt", "list"]) }
        #expect(throws: UsageError.unknownCommand("usdt show")) { try EBPFTool.parse(["usdt", "show", "/bin/x"]) }
        #expect(throws: UsageError.unknownOption("--format")) { try EBPFTool.parse(["usdt", "list", "/bin/x", "--format", "c"]) }
    }

    @Test("python3.11 as JSON: provider, name, address, semaphore, arguments")
    func pythonJSON() throws {
        let python = "/usr/bin/python3.11"
        guard access(python, R_OK) == 0 else { print("skipped: no \(python) (install python3.11)"); return }
        var text = ""
        #expect(EBPFTool.run(.usdtList(path: python, json: true)) { text += $0 } == 0)
        let probes = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(probes.count == 8)
        let audit = try #require(probes.first { $0["name"] as? String == "audit" })
        #expect(audit["provider"] as? String == "python")
        #expect(((audit["address"] as? NSNumber)?.uint64Value ?? 0) > 0)
        #expect(audit["semaphore"] is NSNumber)
        let arguments = try #require(audit["arguments"] as? [[String: Any]])
        #expect(arguments.map { $0["text"] as? String } == ["8@%rbx", "8@%r15"])
        #expect(arguments.allSatisfy { $0["kind"] as? String == "register" && $0["size"] as? Int == 8 })
    }

    @Test("text for libstdc++; a binary without notes is an error")
    func textAndErrors() throws {
        let library = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
        if access(library, R_OK) == 0 {
            var lines: [String] = []
            #expect(EBPFTool.run(.usdtList(path: library, json: false)) { lines.append($0) } == 0)
            let text = lines.joined(separator: "\n")
            #expect(text.contains("libstdcxx:throw address=0x") && text.contains("args=[u64 rdi, u64 rsi]"))
            #expect(text.contains("libstdcxx:catch") && text.contains("u64 *(rbx-80)"))
        }
        var errors: [String] = []
        #expect(EBPFTool.run(.usdtList(path: "/bin/true", json: false), output: { _ in }, errorOutput: { errors.append($0) }) == 1)
        #expect(errors.first?.contains("no USDT probes") == true)
    }
}
