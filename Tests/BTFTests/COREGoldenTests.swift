import EBPFASM
import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

/// The relocated instructions equal libbpf's, byte for byte. testdata/core-golden holds the
/// decisions libbpf 1.1 logged for the same objects and target BTF
/// (Scripts/core-golden/generate.sh); the test applies them to the original bytes and compares.
@Suite("CO-RE equals libbpf")
struct COREGoldenTests {
    /// The program (function) names libbpf logs, and the sections they live in.
    static let sections: [String: String] = [
        "fields": "tp_btf/sched_process_exec", "bitfields": "tp_btf/sched_process_exec",
        "types": "raw_tp/sys_enter", "enums": "raw_tp/sys_enter",
        "ambiguous_target": "raw_tp/sys_enter", "ambiguous_kernel": "raw_tp/sys_exit",
    ]

    struct Decision {
        var program: String
        var relocation: Int
        var slot: Int
        var action: Action
        enum Action: Equatable { case offset(Int64), accessSize(Int64), immediate(Int64), immediate64(UInt64), poison, ambiguous }
    }

    static func parse(_ text: String) throws -> [Decision] {
        var decisions: [Decision] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            // libbpf: prog 'NAME': relo #N: ...
            try #require(words.count > 5, "golden line: \(line)")
            let program = String(words[2].filter { $0 != "'" && $0 != ":" })
            let relocation = try #require(Int(String(words[4].filter { $0 != "#" && $0 != ":" })))
            if line.contains("ambiguity") {
                decisions.append(Decision(program: program, relocation: relocation, slot: -1, action: .ambiguous))
                continue
            }
            let insn = try #require(words.firstIndex { $0.hasPrefix("#") && $0 != words[4] })
            let slot = try #require(Int(words[insn].dropFirst()))
            let action: Decision.Action
            if line.contains("substituting") {
                action = .poison
            } else {
                let value = try #require(words.last)
                if line.contains("(LDIMM64)") {
                    action = .immediate64(try #require(UInt64(value)))
                } else if line.contains(" mem_sz ") {
                    action = .accessSize(try #require(Int64(value)))
                } else if line.contains(" off ") {
                    action = .offset(try #require(Int64(value)))
                } else {
                    action = .immediate(try #require(Int64(value)))
                }
            }
            decisions.append(Decision(program: program, relocation: relocation, slot: slot, action: action))
        }
        return decisions
    }

    /// Applies libbpf's decisions to little-endian instruction bytes.
    static func apply(_ decisions: [Decision], to bytes: inout [UInt8]) throws {
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        for decision in decisions {
            let at = decision.slot * 8
            try #require(at + 8 <= bytes.count)
            switch decision.action {
            case .offset(let value):
                let raw = UInt16(truncatingIfNeeded: value)
                bytes[at + 2] = UInt8(truncatingIfNeeded: raw)
                bytes[at + 3] = UInt8(truncatingIfNeeded: raw >> 8)
            case .accessSize(let size):
                let bits: UInt8 = [1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18][size] ?? 0xFF
                bytes[at] = (bytes[at] & ~0x18) | bits
            case .immediate(let value):
                put32(UInt32(truncatingIfNeeded: value), at: at + 4)
            case .immediate64(let value):
                put32(UInt32(truncatingIfNeeded: value), at: at + 4)
                put32(UInt32(truncatingIfNeeded: value >> 32), at: at + 12)
            case .poison:
                bytes.replaceSubrange(at..<at + 8, with: [0x85, 0, 0, 0, 0x10, 0x23, 0xAD, 0x0B])
            case .ambiguous:
                break
            }
        }
    }

    static let cases: [(object: String, target: String)] = [
        ("core_fields", "6.1"), ("core_fields", "6.18"), ("core_bitfields", "6.1"), ("core_bitfields", "6.18"),
        ("core_types", "6.1"), ("core_types", "6.18"), ("core_enums", "6.1"), ("core_enums", "6.18"),
        ("core_ambiguous", "6.1"), ("core_ambiguous", "6.18"), ("core_ambiguous", "user"),
    ]

    @Test(arguments: cases)
    func relocatedBytesEqualLibbpf(object name: String, target: String) throws {
        let golden = try #require(TestData.contents("core-golden/\(name)-\(target).txt"))
        let decisions = try Self.parse(String(decoding: golden, as: UTF8.self))
        #expect(!decisions.isEmpty)
        let object = try COREFixtures.Object(name, "el")
        let targetSpec: BTFSpec
        if target == "user" {
            targetSpec = try COREAmbiguityTests.userTarget("el")
        } else {
            targetSpec = try COREFixtures.kernel(target)
        }
        // libbpf keeps candidates across the programs of an object, in section order.
        let relocator = CORERelocator(localSpec: object.spec, targets: [targetSpec])
        let programs = Array(Set(decisions.map(\.program))).sorted { a, b in
            (decisions.firstIndex { $0.program == a } ?? 0) < (decisions.firstIndex { $0.program == b } ?? 0)
        }
        for program in programs {
            let section = try #require(Self.sections[program])
            let own = decisions.filter { $0.program == program }
            let original = try object.instructions(section)
            let relocations = object.relocations(section)
            if let ambiguity = own.first(where: { $0.action == .ambiguous }) {
                do {
                    _ = try relocator.relocate(instructions: original, relocations: relocations, program: section)
                    Issue.record("\(name) against \(target): libbpf found \(program) ambiguous, we did not")
                } catch {
                    guard case .ambiguous = error.reason else {
                        Issue.record("\(error)")
                        continue
                    }
                    #expect(error.relocation == relocations[ambiguity.relocation], "\(error)")
                }
                continue
            }
            var expected = try original.encoded(byteOrder: .littleEndian)
            try Self.apply(own, to: &expected)
            let relocated = try relocator.relocate(instructions: original, relocations: relocations, program: section)
            let actual = try relocated.encoded(byteOrder: .littleEndian)
            #expect(actual == expected, "\(name) \(program) against \(target)")
            if actual != expected {
                for slot in 0..<(min(actual.count, expected.count) / 8) where actual[slot * 8..<slot * 8 + 8] != expected[slot * 8..<slot * 8 + 8] {
                    Issue.record("slot \(slot): ours \(Array(actual[slot * 8..<slot * 8 + 8])) libbpf \(Array(expected[slot * 8..<slot * 8 + 8]))")
                }
            }
        }
    }
}

extension COREGoldenTests {
    /// The big-endian build relocates to the same instructions as the little-endian one: the
    /// values come from the target, whatever byte order the program was compiled for.
    @Test(arguments: ["core_fields", "core_bitfields", "core_types", "core_enums"], ["6.1", "6.18"])
    func bigEndianBuildRelocatesLikeTheLittleEndianOne(object name: String, kernel: String) throws {
        let target = try COREFixtures.kernel(kernel)
        let little = try COREFixtures.Object(name, "el")
        let big = try COREFixtures.Object(name, "eb")
        for section in little.ext.coreRelocations.keys.sorted() {
            let fromLittle = try CORE.relocate(
                instructions: try little.instructions(section), relocations: little.relocations(section),
                localSpec: little.spec, targets: [target], program: section)
            let fromBig = try CORE.relocate(
                instructions: try big.instructions(section), relocations: big.relocations(section),
                localSpec: big.spec, targets: [target], program: section)
            try #require(fromLittle.count == fromBig.count)
            for (index, (a, b)) in zip(fromLittle, fromBig).enumerated() {
                #expect(a.hasSameEncoding(as: b), "\(name) \(section) instruction \(index): \(a) vs \(b)")
            }
        }
    }
}
