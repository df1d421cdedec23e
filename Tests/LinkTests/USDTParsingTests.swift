import EBPFELF
import Glibc
import Testing
import TestSupport

@testable import EBPFELFFile
@testable import EBPFLink

/// USDT notes and argument strings parsed without privileges: the real probes of python3.11 and
/// libstdc++ on this machine, and hand-built notes covering each argument form of each
/// architecture libbpf 1.1 supports.
@Suite("USDT parsing")
struct USDTParsingTests {
    static let python = "/usr/bin/python3.11"
    static let libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"

    @Test("python3.11: eight probes, all with semaphores in .probes, every argument parsed")
    func python() throws {
        guard access(Self.python, R_OK) == 0 else { print("skipped: no \(Self.python) (install python3.11)"); return }
        let probes = try USDTProbe.probes(inBinaryAt: Self.python)
        #expect(probes.count == 8)
        #expect(Set(probes.map(\.name)) == [
            "audit", "gc__done", "gc__start", "line", "import__find__load__start", "import__find__load__done",
            "function__entry", "function__return",
        ])
        let file = try ELFFile(path: Self.python)
        let semaphores = try #require(file.section(named: ".probes"))
        for probe in probes {
            #expect(probe.provider == "python")
            #expect(probe.arguments != nil, "\(probe.name): \(String(describing: probe.argumentError))")
            let semaphore = try #require(probe.semaphoreAddress)
            #expect(semaphore >= semaphores.address && semaphore < semaphores.address + semaphores.size)
            #expect(probe.semaphoreFileOffset == semaphore - semaphores.address + semaphores.offset)
            // The probe's instruction is a nop at its file offset.
            let offset = try #require(Int(exactly: probe.fileOffset))
            #expect(file.bytes[offset] == 0x90, "\(probe.name) at 0x\(String(offset, radix: 16)) is not a nop")
        }
        let audit = try #require(probes.first { $0.name == "audit" })
        #expect(audit.arguments?.count == 2)
        #expect(audit.arguments?.allSatisfy { $0.size == 8 && !$0.isSigned } == true)
        let gc = try #require(probes.first { $0.name == "gc__start" }?.arguments?.first)
        #expect(gc.size == 4 && gc.isSigned)
        #expect(gc.location == .memory(register: "rsp", offset: 152, displacement: 112))
    }

    @Test("libstdc++: throw, rethrow and catch without semaphores")
    func libstdcxx() throws {
        guard access(Self.libstdcxx, R_OK) == 0 else { print("skipped: no \(Self.libstdcxx) (install libstdc++6)"); return }
        let probes = try USDTProbe.probes(inBinaryAt: Self.libstdcxx)
        #expect(Set(probes.map(\.name)) == ["throw", "rethrow", "catch"])
        #expect(probes.allSatisfy { $0.provider == "libstdcxx" && $0.semaphoreAddress == nil && $0.arguments?.count == 2 })
        let file = try ELFFile(path: Self.libstdcxx)
        for probe in probes {
            let offset = try #require(Int(exactly: probe.fileOffset))
            #expect(file.bytes[offset] == 0x90, "\(probe.name) is not a nop")
        }
        let catchProbe = try #require(probes.first { $0.name == "catch" })
        #expect(catchProbe.arguments?[1].location == .memory(register: "rbx", offset: 40, displacement: -80))
    }

    /// Each form libbpf 1.1 parses, per architecture, with the location it means.
    static let forms: [(USDTArchitecture, String, Int, Bool, USDTArgument.Location)] = [
        (.x86_64, "-4@%edi", 4, true, .register(name: "edi", offset: 112)),
        (.x86_64, "8@%rax", 8, false, .register(name: "rax", offset: 80)),
        (.x86_64, "1@%r9b", 1, false, .register(name: "r9b", offset: 64)),
        (.x86_64, "-2@%r8w", 2, true, .register(name: "r8w", offset: 72)),
        (.x86_64, "8@-16(%rbp)", 8, false, .memory(register: "rbp", offset: 32, displacement: -16)),
        (.x86_64, "8@(%rax)", 8, false, .memory(register: "rax", offset: 80, displacement: 0)),
        (.x86_64, "-4@$5", 4, true, .constant(5)),
        (.x86_64, "-4@$-9", 4, true, .constant(-9)),
        (.x86_64, "8@%rip", 8, false, .register(name: "rip", offset: 128)),
        (.arm64, "-4@x1", 4, true, .register(name: "x1", offset: 8)),
        (.arm64, "8@sp", 8, false, .register(name: "sp", offset: 248)),
        (.arm64, "8@[sp, 96]", 8, false, .memory(register: "sp", offset: 248, displacement: 96)),
        (.arm64, "-4@[x29, -12]", 4, true, .memory(register: "x29", offset: 232, displacement: -12)),
        (.arm64, "8@[x2]", 8, false, .memory(register: "x2", offset: 16, displacement: 0)),
        (.arm64, "4@5", 4, false, .constant(5)),
        (.s390x, "-8@%r0", 8, true, .register(name: "r0", offset: 24)),
        (.s390x, "-2@-28(%r15)", 2, true, .memory(register: "r15", offset: 144, displacement: -28)),
        (.s390x, "4@71", 4, false, .constant(71)),
        (.riscv64, "-8@a1", 8, true, .register(name: "a1", offset: 88)),
        (.riscv64, "-8@-88(s0)", 8, true, .memory(register: "s0", offset: 64, displacement: -88)),
        (.riscv64, "4@5", 4, false, .constant(5)),
    ]

    @Test("every argument form of x86-64, arm64, s390x and riscv64")
    func forms() throws {
        for (architecture, text, size, signed, location) in Self.forms {
            let argument = try USDTArgument.parse(text, architecture: architecture)
            #expect(argument.size == size && argument.isSigned == signed, "\(architecture) \(text)")
            #expect(argument.location == location, "\(architecture) \(text)")
        }
    }

    @Test("forms libbpf 1.1 cannot express are typed errors naming the argument")
    func unsupported() throws {
        let cases: [(USDTArchitecture, String, String)] = [
            (.x86_64, "8@(%rax,%rbx,8)", "SIB"),
            (.x86_64, "8@-8(%rbp,%rcx,4)", "SIB"),
            (.x86_64, "8@%fs:40", "segment"),
            (.x86_64, "8@counter(%rip)", "symbolic"),
            (.x86_64, "3@%eax", "size 3"),
            (.x86_64, "%eax", "no size"),
            (.x86_64, "4@%xmm0", "unknown"),
            (.x86_64, "4@$0x10", "unexpected"),
            (.arm64, "8@x31", "unknown"),
            (.arm64, "8@[sp, #16]", "decimal offset"),
            (.s390x, "8@%r16", "unknown"),
            (.riscv64, "8@x5", "unknown"),
        ]
        for (architecture, text, reason) in cases {
            #expect("\(architecture) \(text)") {
                _ = try USDTArgument.parse(text, architecture: architecture)
            } throws: { error in
                guard let error = error as? USDTArgumentFormatError else { return false }
                return error.argument == text && error.reason.contains(reason)
            }
        }
        #expect(throws: USDTArgumentFormatError.self) {
            _ = try USDTArgument.parseList(Array(repeating: "8@%rax", count: 13).joined(separator: " "), architecture: .x86_64)
        }
        #expect(try USDTArgument.parseList("", architecture: .x86_64).isEmpty)
    }

    /// A `stapsdt` descriptor: location, base, semaphore, then three strings.
    static func descriptor(location: UInt64, base: UInt64, semaphore: UInt64, provider: String, name: String, arguments: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [location, base, semaphore] { bytes += withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        for text in [provider, name, arguments] { bytes += Array(text.utf8) + [0] }
        return bytes
    }

    static let segments = [
        ELFProgramHeader(index: 0, type: .load, flags: [.read, .execute], offset: 0x1000, virtualAddress: 0x401000, physicalAddress: 0, fileSize: 0x2000, memorySize: 0x2000, alignment: 0x1000),
        ELFProgramHeader(index: 1, type: .load, flags: [.read, .write], offset: 0x3000, virtualAddress: 0x604000, physicalAddress: 0, fileSize: 0x100, memorySize: 0x200, alignment: 0x1000),
    ]

    @Test("hand-built notes: .stapsdt.base adjustment, file offsets of probe and semaphore")
    func handBuilt() throws {
        let bytes = Self.descriptor(location: 0x401234, base: 0x402000, semaphore: 0x604010, provider: "app", name: "tick", arguments: "-4@%edi 8@-16(%rbp) 8@(%rax) -4@$5 8@%rax")
        let note = try #require(USDTProbe.Note(descriptor: bytes, byteOrder: .littleEndian))
        #expect(note.provider == "app" && note.name == "tick" && note.location == 0x401234)
        // Prelinked: .stapsdt.base moved by 0x10 since the note was written.
        let probe = try USDTProbe(note: note, stapsdtBase: 0x402010, segments: Self.segments, architecture: .x86_64, path: "/x")
        #expect(probe.address == 0x401244)
        #expect(probe.fileOffset == 0x1244)
        #expect(probe.semaphoreFileOffset == 0x3010)
        #expect(probe.arguments?.map(\.text) == ["-4@%edi", "8@-16(%rbp)", "8@(%rax)", "-4@$5", "8@%rax"])

        // A location outside executable segments and a semaphore in code are errors naming the probe.
        let outside = try #require(USDTProbe.Note(descriptor: Self.descriptor(location: 0x604000, base: 0, semaphore: 0, provider: "app", name: "bad", arguments: ""), byteOrder: .littleEndian))
        #expect {
            try USDTProbe(note: outside, stapsdtBase: nil, segments: Self.segments, architecture: .x86_64, path: "/x")
        } throws: { error in
            guard case USDTError.addressNotInSegment(let probe, let what, _, _) = error else { return false }
            return probe.name == "bad" && probe.provider == "app" && probe.path == "/x" && what == "probe"
        }
        let semaphoreInCode = try #require(USDTProbe.Note(descriptor: Self.descriptor(location: 0x401000, base: 0, semaphore: 0x401100, provider: "app", name: "sem", arguments: ""), byteOrder: .littleEndian))
        #expect(throws: USDTError.self) {
            try USDTProbe(note: semaphoreInCode, stapsdtBase: nil, segments: Self.segments, architecture: .x86_64, path: "/x")
        }
        // An argument that cannot be expressed is kept as an error, not thrown, so listing works.
        let sib = try #require(USDTProbe.Note(descriptor: Self.descriptor(location: 0x401000, base: 0, semaphore: 0, provider: "app", name: "sib", arguments: "8@(%rax,%rbx,8)"), byteOrder: .littleEndian))
        let sibProbe = try USDTProbe(note: sib, stapsdtBase: nil, segments: Self.segments, architecture: .x86_64, path: "/x")
        #expect(sibProbe.arguments == nil && sibProbe.argumentError?.argument == "8@(%rax,%rbx,8)")
    }

    /// A segment's `p_offset` near 2^64 made `address - p_vaddr + p_offset` trap ("arithmetic
    /// overflow") for a probe or semaphore inside it; such a segment holds nothing now.
    @Test("a PT_LOAD segment whose file range overflows 64 bits holds no probe or semaphore")
    func segmentFileRangeOverflow() throws {
        let hugeOffset: UInt64 = 0xFFFF_FFFF_FFFF_FFF0
        var code = Self.segments[0]
        code.offset = hugeOffset
        let probeNote = try #require(USDTProbe.Note(descriptor: Self.descriptor(location: 0x401234, base: 0, semaphore: 0, provider: "app", name: "huge", arguments: ""), byteOrder: .littleEndian))
        #expect {
            try USDTProbe(note: probeNote, stapsdtBase: nil, segments: [code, Self.segments[1]], architecture: .x86_64, path: "/x")
        } throws: { error in
            guard case USDTError.addressNotInSegment(let probe, "probe", 0x401234, _) = error else { return false }
            return probe.name == "huge"
        }
        var data = Self.segments[1]
        data.offset = hugeOffset
        let semaphoreNote = try #require(USDTProbe.Note(descriptor: Self.descriptor(location: 0x401234, base: 0, semaphore: 0x604010, provider: "app", name: "sem", arguments: ""), byteOrder: .littleEndian))
        #expect {
            try USDTProbe(note: semaphoreNote, stapsdtBase: nil, segments: [Self.segments[0], data], architecture: .x86_64, path: "/x")
        } throws: { error in
            guard case USDTError.addressNotInSegment(_, "semaphore", 0x604010, _) = error else { return false }
            return true
        }
    }

    @Test("malformed descriptors: truncated addresses, unterminated strings, every truncation")
    func malformed() {
        let good = Self.descriptor(location: 1, base: 2, semaphore: 3, provider: "p", name: "n", arguments: "8@%rax")
        #expect(USDTProbe.Note(descriptor: good, byteOrder: .littleEndian) != nil)
        for length in 0..<good.count {
            #expect(USDTProbe.Note(descriptor: Array(good.prefix(length)), byteOrder: .littleEndian) == nil, "length \(length)")
        }
        let big = USDTProbe.Note(descriptor: good, byteOrder: .bigEndian)
        #expect(big?.location == 1 << 56)
    }

    @Test("spec encoding matches struct __bpf_usdt_spec of libbpf 1.1")
    func encoding() throws {
        let arguments = try USDTArgument.parseList("-4@$-9 8@%rax 2@-16(%rbp)", architecture: .x86_64)
        let bytes = USDTSpecMaps.encode(arguments: arguments, cookie: 0x1122_3344_5566_7788)
        #expect(bytes.count == 208)
        func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
        func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        func s16(_ at: Int) -> Int16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int16.self) } }
        #expect(u64(0) == UInt64(bitPattern: -9) && u32(8) == 0 && bytes[14] == 1 && bytes[15] == 32)
        #expect(u64(16) == 0 && u32(24) == 1 && s16(28) == 80 && bytes[30] == 0 && bytes[31] == 0)
        #expect(u64(32) == UInt64(bitPattern: -16) && u32(40) == 2 && s16(44) == 32 && bytes[46] == 0 && bytes[47] == 48)
        #expect(bytes[48..<192].allSatisfy { $0 == 0 })
        #expect(u64(192) == 0x1122_3344_5566_7788 && s16(200) == 3)
    }

    @Test("usdt/PATH:PROVIDER:NAME sections: kprobe programs whose target splits into its parts")
    func sections() throws {
        let section = ProgramSection(sectionName: "usdt//usr/bin/python3.11:python:audit")
        #expect(section.type == .kprobe && section.attachType == nil)
        let target = try #require(section.attachTarget.flatMap(USDT.sectionTarget))
        #expect(target.path == "/usr/bin/python3.11" && target.provider == "python" && target.name == "audit")
        #expect(ProgramSection(sectionName: "usdt").type == .kprobe)
        #expect(ProgramSection(sectionName: "usdt.s/x:p:n").flags.contains(.sleepable))
        #expect(USDT.sectionTarget("/odd:path/lib.so:prov:name")?.path == "/odd:path/lib.so")
        #expect(USDT.sectionTarget("lib.so:name") == nil)
        #expect(USDT.sectionTarget("lib.so::name") == nil)
    }

    @Test("/proc/PID/maps: executable mappings of one file")
    func mappings() {
        let text = """
            00400000-00401000 r--p 00000000 08:01 123 /usr/bin/x
            7f0000000000-7f0000010000 r-xp 00020000 08:01 456 /usr/lib/lib y.so
            7f0000010000-7f0000020000 rw-p 00030000 08:01 456 /usr/lib/lib y.so
            7f0000020000-7f0000021000 rw-p 00000000 00:00 0
            """
        #expect(USDT.parseMappings(text, path: "/usr/lib/lib y.so") == [USDT.Mapping(start: 0x7f00_0000_0000, end: 0x7f00_0001_0000, offset: 0x20000)])
        #expect(USDT.parseMappings(text, path: "/usr/bin/x").isEmpty)
    }
}
