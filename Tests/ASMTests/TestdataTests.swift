import EBPFASM
import EBPFELFFile
import Foundation
import Testing
import TestSupport

/// The testdata objects and their executable sections, decoded.
struct TestdataProgram: Sendable {
    var object: String
    var section: String
    var byteOrder: EBPFASM.ByteOrder
    var bytes: [UInt8]
}

enum Testdata {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("testdata")

    static let llvmObjdump = Toolchain.tool("llvm-objdump") ?? "llvm-objdump (not found on PATH or in /opt/swift/usr/bin)"

    /// Every `*.o` in testdata, sorted.
    static func objectPaths() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".o") }
            .sorted()
            .map { directory.appendingPathComponent($0).path }
    }

    static func programs(in path: String) throws -> [TestdataProgram] {
        let file = try ELFFile(path: path)
        let order: EBPFASM.ByteOrder = file.header.byteOrder == .littleEndian ? .littleEndian : .bigEndian
        let name = URL(fileURLWithPath: path).lastPathComponent
        return try file.sections.filter { $0.flags.contains(.execinstr) && $0.size > 0 }.map { section in
            TestdataProgram(object: name, section: section.name, byteOrder: order, bytes: Array(try file.contents(of: section)))
        }
    }

    static func allPrograms() throws -> [TestdataProgram] {
        try objectPaths().flatMap { try programs(in: $0) }
    }

    /// llvm-objdump's text per section, as (raw slot, text) pairs with labels and tabs normalised.
    static func objdump(_ path: String) throws -> [String: [(slot: Int, text: String)]] {
        let result = try runSubprocess(llvmObjdump, ["-d", "-z", "--no-show-raw-insn", "--mcpu=v4", path])
        guard result.status == 0 else {
            throw ObjdumpFailure(status: result.status, path: path)
        }
        let data = result.standardOutput
        var sections: [String: [(slot: Int, text: String)]] = [:]
        var current: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            let prefix = "Disassembly of section "
            if line.hasPrefix(prefix) {
                let name = String(line.dropFirst(prefix.count).dropLast())
                current = name
                sections[name] = []
                continue
            }
            guard let current, let colon = line.firstIndex(of: ":") else { continue }
            let address = line[..<colon].trimmingCharacters(in: .whitespaces)
            // Instruction lines are "<decimal slot>:\t<text>"; symbol lines start with a hex address.
            guard let slot = Int(address), line[line.index(after: colon)...].hasPrefix("\t") else { continue }
            sections[current, default: []].append((slot, normalise(String(line[line.index(after: colon)...]))))
        }
        return sections
    }

    /// Drops a trailing ` <label>` and collapses whitespace.
    static func normalise(_ text: String) -> String {
        var text = text
        if text.hasSuffix(">"), let open = text.range(of: " <", options: .backwards) {
            text = String(text[..<open.lowerBound])
        }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}

struct ObjdumpFailure: Error, CustomStringConvertible {
    var status: Int32
    var path: String
    var description: String { "llvm-objdump exited with \(status) for \(path)" }
}

/// An instruction variant as the coverage test counts it: the opcode, plus the field that selects
/// a variant where one does.
struct Variant: Hashable, Comparable, CustomStringConvertible {
    var opCode: UInt8
    var discriminator: Int64?

    init(_ opCode: UInt8, _ discriminator: Int64? = nil) {
        self.opCode = opCode
        self.discriminator = discriminator
    }

    init(_ instruction: Instruction) {
        let opCode = instruction.opCode
        let discriminator: Int64?
        switch (opCode.instructionClass, opCode.aluOperation) {
        case (.alu, .div), (.alu64, .div), (.alu, .mod), (.alu64, .mod):
            discriminator = Int64(instruction.offset)
        case (.alu, .mov) where opCode.source == .register, (.alu64, .mov) where opCode.source == .register:
            discriminator = Int64(instruction.offset)
        case (.alu, .end), (.alu64, .end):
            discriminator = instruction.constant
        default:
            if opCode.instructionClass == .stx, opCode.mode == .atomic {
                discriminator = instruction.constant
            } else if instruction.isWide || opCode == .call {
                discriminator = Int64(instruction.source.rawValue)
            } else {
                discriminator = nil
            }
        }
        self.init(opCode.rawValue, discriminator)
    }

    static func < (lhs: Variant, rhs: Variant) -> Bool {
        (lhs.opCode, lhs.discriminator ?? -1) < (rhs.opCode, rhs.discriminator ?? -1)
    }

    var description: String {
        let opCode = "0x" + String(opCode, radix: 16)
        guard let discriminator else { return opCode }
        return "\(opCode)/0x\(String(discriminator, radix: 16))"
    }
}

/// Every opcode and variant of the instruction set (and LLVM's `callx`), written out.
let instructionSetVariants: Set<Variant> = {
    var variants: Set<Variant> = []
    // ALU64 (class 7) and ALU (class 4): add sub mul or and lsh rsh xor arsh, K (+0) and X (+8).
    for base: UInt8 in [0x07, 0x04] {
        for operation: UInt8 in [0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xc0] {
            variants.insert(Variant(base | operation))
            variants.insert(Variant(base | operation | 0x08))
        }
        // div and mod: unsigned (offset 0) and signed (offset 1), K and X.
        for operation: UInt8 in [0x30, 0x90] {
            for offset: Int64 in [0, 1] {
                variants.insert(Variant(base | operation, offset))
                variants.insert(Variant(base | operation | 0x08, offset))
            }
        }
        variants.insert(Variant(base | 0x80))  // neg
        variants.insert(Variant(base | 0xb0))  // mov K
    }
    for offset: Int64 in [0, 8, 16, 32, 1] { variants.insert(Variant(0xbf, offset)) }  // mov, movsx, addr_space_cast
    for offset: Int64 in [0, 8, 16] { variants.insert(Variant(0xbc, offset)) }  // mov32, movsx32
    for width: Int64 in [16, 32, 64] {
        variants.insert(Variant(0xd4, width))  // le
        variants.insert(Variant(0xdc, width))  // be
        variants.insert(Variant(0xd7, width))  // bswap
    }
    // JMP (class 5) and JMP32 (class 6) comparisons, K and X.
    for base: UInt8 in [0x05, 0x06] {
        for operation: UInt8 in [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0] {
            variants.insert(Variant(base | operation))
            variants.insert(Variant(base | operation | 0x08))
        }
    }
    variants.formUnion([Variant(0x05), Variant(0x06), Variant(0xe5), Variant(0x95), Variant(0x8d)])  // ja gotol may_goto exit callx
    for kind: Int64 in [0, 1, 2] { variants.insert(Variant(0x85, kind)) }  // call helper, subprogram, kfunc
    for source: Int64 in 0...6 { variants.insert(Variant(0x18, source)) }  // lddw and its pseudo sources
    variants.formUnion([0x20, 0x28, 0x30, 0x40, 0x48, 0x50].map { Variant($0) })  // ld_abs, ld_ind
    variants.formUnion([0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91].map { Variant($0) })  // ldx mem, memsx
    variants.formUnion([0x62, 0x6a, 0x72, 0x7a].map { Variant($0) })  // st mem
    variants.formUnion([0x63, 0x6b, 0x73, 0x7b].map { Variant($0) })  // stx mem
    for opCode: UInt8 in [0xc3, 0xdb] {
        for operation: Int64 in [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110] {
            variants.insert(Variant(opCode, operation))
        }
    }
    for opCode: UInt8 in [0xcb, 0xd3] {
        variants.insert(Variant(opCode, 0x100))  // load_acquire
        variants.insert(Variant(opCode, 0x110))  // store_release
    }
    return variants
}()

@Suite("Testdata objects", .checksFileDescriptorLeaks)
struct TestdataTests {
    @Test("testdata has objects in both byte orders")
    func objectsExist() throws {
        let paths = try Testdata.objectPaths()
        #expect(paths.contains { $0.hasSuffix("-el.o") })
        #expect(paths.contains { $0.hasSuffix("-eb.o") })
        #expect(try !Testdata.allPrograms().isEmpty)
    }

    @Test("every executable section decodes and re-encodes to the same bytes")
    func roundTrip() throws {
        for program in try Testdata.allPrograms() {
            let instructions = try Instruction.decode(program.bytes, byteOrder: program.byteOrder)
            let encoded = try instructions.encoded(byteOrder: program.byteOrder)
            #expect(encoded == program.bytes, "\(program.object) \(program.section)")
            #expect(instructions.slotCount * 8 == program.bytes.count)
        }
    }

    @Test("the disassembly matches llvm-objdump's for every instruction")
    func matchesObjdump() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Testdata.llvmObjdump),
            "llvm-objdump is part of the toolchain and must exist at \(Testdata.llvmObjdump)"
        )
        var compared = 0
        for path in try Testdata.objectPaths() {
            let reference = try Testdata.objdump(path)
            let programs = try Testdata.programs(in: path)
            #expect(Set(reference.keys) == Set(programs.map(\.section)), "\(path)")
            for program in programs {
                let instructions = try Instruction.decode(program.bytes, byteOrder: program.byteOrder)
                let offsets = RawOffsetMap(instructions)
                let ours = instructions.indices.map { index in
                    (slot: offsets.slot(ofIndex: index) ?? -1, text: instructions[index].description)
                }
                let theirs = reference[program.section] ?? []
                #expect(ours.map(\.slot) == theirs.map(\.slot), "\(program.object) \(program.section)")
                for (mine, objdump) in zip(ours, theirs) where mine.slot == objdump.slot {
                    #expect(mine.text == objdump.text, "\(program.object) \(program.section) slot \(mine.slot)")
                    compared += 1
                }
            }
        }
        #expect(compared > 500)
    }

    @Test("testdata covers every instruction of the instruction set")
    func coverage() throws {
        var seen: Set<Variant> = []
        for program in try Testdata.allPrograms() {
            let instructions = try Instruction.decode(program.bytes, byteOrder: program.byteOrder)
            seen.formUnion(instructions.map(Variant.init))
        }
        for missing in instructionSetVariants.subtracting(seen).sorted() {
            Issue.record("testdata lacks \(missing) (\(missingText(missing)))")
        }
        for extra in seen.subtracting(instructionSetVariants).sorted() {
            Issue.record("testdata has \(extra), which the variant list does not know")
        }
    }

    private func missingText(_ variant: Variant) -> String {
        var instruction = Instruction(opCode: OpCode(rawValue: variant.opCode))
        let discriminator = variant.discriminator ?? 0
        if instruction.opCode.isArithmetic, instruction.opCode.aluOperation != .end {
            instruction.offset = Int16(truncatingIfNeeded: discriminator)
            if instruction.opCode.source == .register { instruction.source = .r1 }
        } else if instruction.isWide || instruction.opCode == .call {
            instruction.source = Register(rawValue: UInt8(truncatingIfNeeded: discriminator))
        } else {
            instruction.constant = discriminator
        }
        let field =
            if instruction.opCode.isArithmetic, instruction.opCode.aluOperation != .end {
                "offset"
            } else if instruction.isWide || instruction.opCode == .call {
                "source field"
            } else {
                "immediate"
            }
        guard variant.discriminator != nil else { return instruction.description }
        return "\(instruction.description) with \(field) \(discriminator)"
    }
}
