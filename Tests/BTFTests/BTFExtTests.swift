import EBPFBTF
import EBPFELFFile
import Testing
import TestSupport

@Suite("BTF.ext")
struct BTFExtTests {
    /// A `.BTF` blob with the strings the records refer to, and a function type.
    static func spec(bigEndian: Bool) throws -> (BTFSpec, section: UInt32, file: UInt32, line: UInt32, access: UInt32) {
        var raw = RawBTF()
        let section = raw.string("kprobe/do_sys_open")
        let file = raw.string("probe.c")
        let line = raw.string("return ctx->pid;")
        let access = raw.string("0:1")
        let fn = raw.string("probe")
        raw.type(kind: .functionPrototype, sizeOrType: 0)  // 1
        raw.type(name: fn, kind: .function, vlen: 1, sizeOrType: 1)  // 2
        return (try BTFSpec(bytes: raw.blob(bigEndian: bigEndian)), section, file, line, access)
    }

    @Test(arguments: [false, true])
    func everyRecordKindParses(bigEndian: Bool) throws {
        let (spec, section, file, line, access) = try Self.spec(bigEndian: bigEndian)
        var raw = RawBTFExt()
        raw.funcInfo = [.init(sectionName: section, records: [[0, 2]])]
        raw.lineInfo = [.init(sectionName: section, records: [[8, file, line, 12 << 10 | 5], [16, file, line, 13 << 10]])]
        raw.coreRelocations = [
            .init(sectionName: section, records: (0...12).map { [UInt32($0) * 8, 2, access, UInt32($0)] }),
        ]
        // A record longer than the kernel's is allowed: the extra bytes are skipped.
        raw.lineRecordSize = 20
        let ext = try BTFExt(bytes: raw.blob(bigEndian: bigEndian), spec: spec)
        #expect(ext.byteOrder == (bigEndian ? .bigEndian : .littleEndian))
        #expect(ext.funcInfos == ["kprobe/do_sys_open": [BTFFuncInfo(instructionOffset: 0, type: 2)]])
        #expect(ext.lineInfos["kprobe/do_sys_open"] == [
            BTFLineInfo(instructionOffset: 8, fileName: "probe.c", line: "return ctx->pid;", lineNumber: 12, column: 5),
            BTFLineInfo(instructionOffset: 16, fileName: "probe.c", line: "return ctx->pid;", lineNumber: 13, column: 0),
        ])
        let relocations = try #require(ext.coreRelocations["kprobe/do_sys_open"])
        #expect(relocations.map(\.kind) == BTFCoreRelocationKind.allKnown)
        #expect(relocations.map(\.instructionIndex) == Array(0...12))
        #expect(relocations.allSatisfy { $0.accessString == "0:1" && $0.type == 2 })
        #expect(BTFCoreRelocationKind.typeMatches.rawValue == 12)
        #expect(BTFCoreRelocationKind.fieldByteOffset.description == "byte_off")
    }

    /// Section names are matched by string offset, and two offsets of one string are one section:
    /// few sections are searched linearly, many through tables. The line info names the sections
    /// in reverse order and half of them through a second offset of the same text.
    @Test(arguments: [10, 100])
    func sectionsNamedAgainAndThroughOtherOffsetsAreOne(count: Int) throws {
        var raw = RawBTF()
        var direct: [UInt32] = []
        var aliases: [UInt32] = []
        for number in 0..<count {
            direct.append(raw.string("kprobe/f\(number)"))
            // The same text one byte into a longer string: another offset of an equal string.
            aliases.append(raw.string("x" + "kprobe/f\(number)") + 1)
        }
        let fn = raw.string("probe")
        raw.type(kind: .functionPrototype, sizeOrType: 0)  // 1
        raw.type(name: fn, kind: .function, vlen: 1, sizeOrType: 1)  // 2
        let spec = try BTFSpec(bytes: raw.blob())
        var ext = RawBTFExt()
        ext.funcInfo = (0..<count).map { .init(sectionName: direct[$0], records: [[0, 2]]) }
        ext.lineInfo = (0..<count).reversed().map { number in
            .init(sectionName: number % 2 == 0 ? aliases[number] : direct[number], records: [[UInt32(number) * 8, fn, fn, 7 << 10]])
        }
        // A section named twice in one subsection has its runs joined.
        ext.lineInfo.append(.init(sectionName: aliases[1], records: [[800, fn, fn, 8 << 10]]))
        let parsed = try BTFExt(bytes: ext.blob(), spec: spec)
        #expect(parsed.funcInfos.count == count)
        #expect(parsed.lineInfos.count == count)
        for number in 0..<count {
            let name = "kprobe/f\(number)"
            #expect(parsed.funcInfos[name] == [BTFFuncInfo(instructionOffset: 0, type: 2)])
            var expected = [BTFLineInfo(instructionOffset: UInt32(number) * 8, fileName: "probe", line: "probe", lineNumber: 7, column: 0)]
            if number == 1 {
                expected.append(BTFLineInfo(instructionOffset: 800, fileName: "probe", line: "probe", lineNumber: 8, column: 0))
            }
            #expect(parsed.lineInfos[name] == expected, "\(name)")
        }
    }

    @Test func headerWithoutCoreRelocations() throws {
        let (spec, section, _, _, _) = try Self.spec(bigEndian: false)
        var raw = RawBTFExt()
        raw.includeCoreHeader = false
        raw.funcInfo = [.init(sectionName: section, records: [[0, 2]])]
        let ext = try BTFExt(bytes: raw.blob(), spec: spec)
        #expect(ext.coreRelocations.isEmpty)
        #expect(ext.funcInfos.count == 1)
    }

    @Test func badInputGivesTypedErrors() throws {
        let (spec, section, file, line, _) = try Self.spec(bigEndian: false)
        #expect(throws: BTFExtError.truncatedHeader(available: 4, needed: 24)) {
            try BTFExt(bytes: [0x9F, 0xEB, 1, 0], spec: spec)
        }
        var good = RawBTFExt()
        good.funcInfo = [.init(sectionName: section, records: [[0, 2]])]
        var bytes = good.blob()
        bytes[0] = 0
        #expect(throws: BTFExtError.badMagic(0xEB00)) { try BTFExt(bytes: bytes, spec: spec) }
        bytes = good.blob()
        bytes[2] = 2
        #expect(throws: BTFExtError.unsupportedVersion(2)) { try BTFExt(bytes: bytes, spec: spec) }
        bytes = good.blob()
        bytes[4] = 200
        #expect(throws: BTFExtError.badHeaderLength(200, available: bytes.count)) { try BTFExt(bytes: bytes, spec: spec) }
        // func_info length 24 claims more than the 20 bytes after the 32-byte header.
        bytes = good.blob()
        bytes[12] = 24
        #expect(throws: BTFExtError.subsectionOutOfBounds(subsection: "func_info", offset: 0, length: 24, available: 20)) {
            try BTFExt(bytes: bytes, spec: spec)
        }

        var small = good
        small.funcRecordSize = 4
        #expect(throws: BTFExtError.recordSizeTooSmall(subsection: "func_info", offset: 32, recordSize: 4, minimum: 8)) {
            try BTFExt(bytes: small.blob(), spec: spec)
        }
        // num_info of 1000 records in a 20-byte subsection.
        bytes = good.blob()
        bytes[40] = 0xE8
        bytes[41] = 0x03
        #expect(throws: BTFExtError.truncatedRecords(subsection: "func_info", offset: 36, needed: 8000, available: 8)) {
            try BTFExt(bytes: bytes, spec: spec)
        }
        var badName = RawBTFExt()
        badName.funcInfo = [.init(sectionName: 5000, records: [[0, 2]])]
        #expect(throws: BTFExtError.stringOffsetOutOfRange(subsection: "func_info", offset: 36, stringOffset: 5000)) {
            try BTFExt(bytes: badName.blob(), spec: spec)
        }
        var badType = RawBTFExt()
        badType.funcInfo = [.init(sectionName: section, records: [[0, 99]])]
        #expect(throws: BTFExtError.typeIDOutOfRange(subsection: "func_info", offset: 48, type: 99, typeCount: 3)) {
            try BTFExt(bytes: badType.blob(), spec: spec)
        }
        var misaligned = RawBTFExt()
        misaligned.lineInfo = [.init(sectionName: section, records: [[3, file, line, 0]])]
        #expect(throws: BTFExtError.misalignedInstructionOffset(subsection: "line_info", offset: 44, instructionOffset: 3)) {
            try BTFExt(bytes: misaligned.blob(), spec: spec)
        }
    }

    @Test func truncationsAndBitFlipsOfRealSectionsNeverTrap() throws {
        let file = try ELFFile(path: TestData.path("subprog-eb.o"))
        let spec = try BTFSpec(bytes: try file.contents(of: try #require(file.section(named: ".BTF"))))
        let ext = Array(try file.contents(of: try #require(file.section(named: ".BTF.ext"))))
        var failures = 0
        for length in 0..<ext.count {
            do { _ = try BTFExt(bytes: Array(ext.prefix(length)), spec: spec) } catch { failures += 1 }
        }
        #expect(failures == ext.count)
        var generator = SplitMix(seed: 7)
        for _ in 0..<5000 {
            var mutated = ext
            let index = Int(generator.next() % UInt64(mutated.count))
            mutated[index] ^= UInt8(1) << (generator.next() % 8)
            _ = try? BTFExt(bytes: mutated, spec: spec)
        }
        #expect(try BTFExt(bytes: ext, spec: spec).lineInfos.isEmpty == false)
    }
}
