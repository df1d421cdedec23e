import EBPFELFFile
import Testing
import TestSupport

/// What each testdata object must contain, independent of byte order.
struct ExpectedObject: Sendable, CustomTestStringConvertible {
    var name: String
    var programSections: [String]
    var functions: [String]
    var objects: [String]
    /// Symbols that relocations in program sections refer to.
    var relocatedSymbols: [String]

    var testDescription: String { name }

    static let all: [ExpectedObject] = [
        ExpectedObject(
            name: "minimal", programSections: ["socket"], functions: ["accept_all"], objects: ["_license"],
            relocatedSymbols: []),
        ExpectedObject(
            name: "maps_legacy", programSections: ["kprobe/sys_execve"], functions: ["count_execve"],
            objects: ["_license", "_version", "execve_counts", "pid_seen"],
            relocatedSymbols: ["execve_counts", "pid_seen"]),
        ExpectedObject(
            name: "maps_btf", programSections: ["tracepoint/syscalls/sys_enter_execve"],
            functions: ["record_execve"],
            objects: ["start_times", "last_events", "per_cpu_counter", "events", "pinned_lru", "_license"],
            relocatedSymbols: ["start_times", "last_events", "per_cpu_counter", "events", "pinned_lru"]),
        ExpectedObject(
            name: "globals", programSections: ["socket"], functions: ["count_packets"],
            objects: ["target_pid", "greeting", "packets_seen", "bytes_seen", "sample_rate", "custom_counter",
                      "hidden_state", "_license"],
            relocatedSymbols: ["packets_seen", "custom_counter", "target_pid", "sample_rate"]),
        ExpectedObject(
            name: "subprog", programSections: [".text", "socket", "xdp"],
            functions: ["mix", "twice", "global_helper", "loop_body", "calls_subprograms", "calls_loop"],
            objects: ["accumulator", "_license"], relocatedSymbols: ["global_helper"]),
        ExpectedObject(
            name: "loops", programSections: ["socket"], functions: ["bounded_loop", "switch_on_protocol"],
            objects: ["_license"], relocatedSymbols: []),
        ExpectedObject(
            name: "isa_v3", programSections: [".text", "socket"],
            functions: ["isa_alu", "isa_jmp", "isa_mem", "isa_packet", "isa_atomic", "isa_calls", "isa_subprog",
                        "isa_callback"],
            objects: ["isa_map", "isa_global", "_license"],
            relocatedSymbols: ["isa_map", "isa_global", "bpf_rcu_read_lock", "bpf_rcu_read_unlock"]),
        ExpectedObject(
            name: "isa_v4", programSections: ["socket"],
            functions: ["isa_v4_alu", "isa_v4_jmp", "isa_v4_mem", "isa_v4_ld_pseudo", "isa_v4_callx"],
            objects: ["_license"], relocatedSymbols: []),
    ]
}

@Suite("testdata objects", .checksFileDescriptorLeaks)
struct TestdataObjectTests {
    @Test("every object is listed", arguments: [ELFByteOrder.littleEndian, .bigEndian])
    func everyObjectIsExpected(order: ELFByteOrder) throws {
        #expect(Set(ExpectedObject.all.map(\.name)) == Set(Testdata.objectNames))
        for name in Testdata.objectNames {
            _ = try Testdata.load(name, order)
        }
    }

    @Test("header, sections, symbols and relocations", arguments: ExpectedObject.all, [ELFByteOrder.littleEndian, .bigEndian])
    func parsesObject(expected: ExpectedObject, order: ELFByteOrder) throws {
        let file = try Testdata.load(expected.name, order)

        #expect(file.header.byteOrder == order)
        #expect(file.header.machine == .bpf)
        #expect(file.header.type == .relocatable)
        #expect(file.header.version == 1)
        #expect(file.header.entry == 0)
        #expect(file.programHeaders.isEmpty)
        #expect(file.sections.count == file.header.sectionHeaderCount)
        #expect(file.sections.first?.type == .null)
        #expect(file.sections.enumerated().allSatisfy { $0.offset == $0.element.index })

        for name in expected.programSections + ["license", ".BTF", ".symtab", ".strtab"] {
            #expect(file.section(named: name) != nil, "missing section \(name)")
        }
        for name in expected.programSections {
            let section = try #require(file.section(named: name))
            #expect(section.type == .progbits)
            #expect(section.flags.contains([.alloc, .execinstr]))
            #expect(try file.contents(of: section).count == Int(section.size))
            #expect(section.size % 8 == 0)
        }
        let license = try #require(file.section(named: "license"))
        let licenseText = try file.contents(of: license)
        #expect(licenseText.last == 0)
        #expect(String(decoding: licenseText.dropLast(), as: UTF8.self).contains("GPL"))

        let symbols = try file.symbols()
        #expect(symbols.first?.name == "")
        #expect(symbols.first?.isUndefined == true)
        #expect(symbols.enumerated().allSatisfy { $0.offset == $0.element.index })
        for function in expected.functions {
            let symbol = try #require(symbols.first { $0.name == function }, "missing function \(function)")
            #expect(symbol.kind == .func)
            let section = try #require(symbol.section.flatMap(file.section(at:)))
            #expect(section.flags.contains(.execinstr))
            #expect(symbol.value + symbol.size <= section.size)
        }
        for object in expected.objects {
            let symbol = try #require(symbols.first { $0.name == object }, "missing object \(object)")
            #expect(symbol.kind == .object)
            #expect(symbol.section != nil)
        }
        #expect(try file.dynamicSymbols().isEmpty)

        var relocated: Set<String> = []
        for section in file.sections where section.type == .rel {
            let target = try #require(try file.relocationTarget(of: section))
            #expect(section.name == ".rel" + target.name)
            for relocation in try file.relocations(in: section) {
                #expect(relocation.addend == 0)
                #expect(relocation.offset < max(target.size, 1))
                let symbol = symbols[Int(relocation.symbolIndex)]
                if expected.programSections.contains(target.name) {
                    // R_BPF_64_64 (1) for 64-bit immediates, R_BPF_64_32 (10) for calls.
                    #expect([1, 10].contains(relocation.type))
                    #expect(relocation.offset % 8 == 0)
                    relocated.insert(symbol.name)
                }
            }
        }
        #expect(relocated.isSuperset(of: expected.relocatedSymbols))
    }

    @Test("both byte orders agree", arguments: Testdata.objectNames)
    func byteOrdersAgree(name: String) throws {
        let little = try Testdata.load(name, .littleEndian)
        let big = try Testdata.load(name, .bigEndian)
        #expect(little.header.byteOrder == .littleEndian)
        #expect(big.header.byteOrder == .bigEndian)
        #expect(little.sections.map(\.name) == big.sections.map(\.name))
        #expect(little.sections.map(\.type) == big.sections.map(\.type))
        #expect(little.sections.map(\.flags) == big.sections.map(\.flags))

        let littleSymbols = try little.symbols()
        let bigSymbols = try big.symbols()
        #expect(littleSymbols.count == bigSymbols.count)
        for (l, b) in zip(littleSymbols, bigSymbols) {
            #expect(l.name == b.name)
            #expect(l.value == b.value)
            #expect(l.size == b.size)
            #expect(l.binding == b.binding)
            #expect(l.kind == b.kind)
            #expect(l.sectionIndex == b.sectionIndex)
        }

        for (l, b) in zip(little.sections, big.sections) where l.type == .rel {
            let littleRelocations = try little.relocations(in: l)
            let bigRelocations = try big.relocations(in: b)
            #expect(littleRelocations.map(\.offset) == bigRelocations.map(\.offset), "\(l.name)")
            #expect(littleRelocations.map(\.type) == bigRelocations.map(\.type), "\(l.name)")
            #expect(
                littleRelocations.map { littleSymbols[Int($0.symbolIndex)].name }
                    == bigRelocations.map { bigSymbols[Int($0.symbolIndex)].name }, "\(l.name)")
        }
    }

    @Test("symbol details of maps_legacy")
    func legacyMapSymbols() throws {
        let file = try Testdata.load("maps_legacy", .bigEndian)
        let symbols = try file.symbols()
        let maps = try #require(file.section(named: "maps"))
        let counts = try #require(symbols.first { $0.name == "execve_counts" })
        let seen = try #require(symbols.first { $0.name == "pid_seen" })
        #expect(counts.section == maps.index)
        #expect(counts.binding == .global)
        #expect(counts.visibility == .default)
        #expect(counts.size == 20)
        #expect(seen.value == 20)
        #expect(maps.size == 40)

        // struct bpf_map_def { type, key_size, value_size, max_entries, map_flags } in big endian.
        let reader = ByteReader(bytes: try file.contents(of: maps), byteOrder: .bigEndian)
        #expect(try reader.readU32(at: 0) == 2)  // BPF_MAP_TYPE_ARRAY
        #expect(try reader.readU32(at: 8) == 8)
        #expect(try reader.readU32(at: 20) == 1)  // BPF_MAP_TYPE_HASH
        #expect(try reader.readU32(at: 32) == 128)

        let version = try #require(file.section(named: "version"))
        let versionReader = ByteReader(bytes: try file.contents(of: version), byteOrder: .bigEndian)
        #expect(try versionReader.readU32(at: 0) == 0xFFFF_FFFE)

        let programSection = try #require(file.section(named: ".relkprobe/sys_execve"))
        let relocations = try file.relocations(in: programSection)
        #expect(relocations.map { symbols[Int($0.symbolIndex)].name } == ["execve_counts", "pid_seen"])
        #expect(relocations.map(\.offset) == [0x20, 0x98])
    }

    @Test("globals: data sections, local symbols and section symbols")
    func globalsSections() throws {
        let file = try Testdata.load("globals", .littleEndian)
        let bss = try #require(file.section(named: ".bss"))
        #expect(bss.type == .nobits)
        #expect(bss.size == 16)
        #expect(try file.contents(of: bss).isEmpty)
        #expect(file.section(named: ".rodata")?.type == .progbits)
        #expect(file.section(named: ".data.custom") != nil)

        let symbols = try file.symbols()
        let hidden = try #require(symbols.first { $0.name == "hidden_state" })
        #expect(hidden.binding == .local)
        #expect(hidden.section == file.section(named: ".data")?.index)
        let file_ = try #require(symbols.first { $0.kind == .file })
        #expect(file_.name == "globals.c")
        #expect(file_.isAbsolute)
        #expect(symbols.contains { $0.kind == .section && $0.section == file.section(named: ".data")?.index })
    }

    @Test("isa_v3: extern kfuncs are undefined global symbols")
    func kfuncSymbols() throws {
        let file = try Testdata.load("isa_v3", .littleEndian)
        let symbols = try file.symbols()
        for name in ["bpf_rcu_read_lock", "bpf_rcu_read_unlock"] {
            let symbol = try #require(symbols.first { $0.name == name })
            #expect(symbol.isUndefined)
            #expect(symbol.section == nil)
            #expect(symbol.binding == .global)
        }
    }

    @Test("string lookup and section queries")
    func sectionQueries() throws {
        let file = try Testdata.load("minimal", .littleEndian)
        let strtab = try #require(file.section(named: ".strtab"))
        #expect(try file.string(at: 0, inStringTable: strtab) == "")
        let socket = try #require(file.section(named: "socket"))
        #expect(try file.string(at: socket.nameIndex, inStringTable: strtab) == "socket")
        #expect(throws: ELFError.badStringIndex(table: ".strtab", index: UInt32(strtab.size))) {
            try file.string(at: UInt32(strtab.size), inStringTable: strtab)
        }
        #expect(throws: ELFError.badSectionType(section: "socket", type: .progbits, expected: .strtab)) {
            try file.string(at: 0, inStringTable: socket)
        }
        #expect(throws: ELFError.badSectionType(section: "socket", type: .progbits, expected: .rel)) {
            try file.relocations(in: socket)
        }
        #expect(throws: ELFError.badSectionType(section: "socket", type: .progbits, expected: .note)) {
            try file.notes(in: socket)
        }
        #expect(file.section(named: "no such section") == nil)
        #expect(file.section(at: -1) == nil)
        #expect(file.section(at: file.sections.count) == nil)
        #expect(file.sections(ofType: .symtab).map(\.name) == [".symtab"])
    }
}
