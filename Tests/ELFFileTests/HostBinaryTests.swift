import EBPFELFFile
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

private func fileExists(_ path: String) -> Bool {
    access(path, R_OK) == 0
}

private var hostMachine: ELFMachine {
    #if arch(x86_64)
    .x86_64
    #elseif arch(arm64)
    .aarch64
    #else
    .none
    #endif
}

@Suite("host binaries", .checksFileDescriptorLeaks)
struct HostBinaryTests {
    @Test("the running test executable: program headers, symbols, dynamic symbols")
    func testExecutable() throws {
        let file = try ELFFile(path: "/proc/self/exe")
        #expect(file.header.byteOrder == ELFByteOrder.host)
        #expect(file.header.machine == hostMachine)
        #expect([ELFFileType.executable, .sharedObject].contains(file.header.type))
        #expect(file.header.entry != 0)
        #expect(file.programHeaders.count == file.header.programHeaderCount)
        #expect(file.programHeaders.contains { $0.type == .load && $0.flags.contains(.execute) })
        #expect(file.programHeaders.contains { $0.type == .dynamic })
        for segment in file.programHeaders {
            #expect(segment.memorySize >= segment.fileSize || segment.type != .load)
        }
        let interpreter = try #require(file.programHeaders.first { $0.type == .interpreter })
        let path = try file.contents(of: interpreter)
        #expect(String(decoding: path.prefix { $0 != 0 }, as: UTF8.self).hasPrefix("/lib"))

        let dynamic = try file.dynamicSymbols()
        #expect(dynamic.count > 1)
        #expect(dynamic.contains { $0.name.hasPrefix("swift_") && $0.isUndefined })
        let symbols = try file.symbols()
        #expect(symbols.contains { $0.kind == .func && !$0.isUndefined && $0.size > 0 })
    }

    @Test(
        "/bin/true: notes, build id, RELA relocations",
        .enabled(if: fileExists("/bin/true"), "/bin/true is not readable on this machine")
    )
    func binTrue() throws {
        let file = try ELFFile(path: "/bin/true")
        #expect(file.header.machine == hostMachine)
        #expect(file.header.byteOrder == ELFByteOrder.host)

        let buildIDSection = try #require(file.section(named: ".note.gnu.build-id"))
        let buildID = try file.notes(in: buildIDSection)
        #expect(buildID.count == 1)
        #expect(buildID.first?.name == "GNU")
        #expect(buildID.first?.type == 3)  // NT_GNU_BUILD_ID
        #expect([16, 20, 32].contains(buildID.first?.descriptor.count ?? 0))

        if let abiTag = file.section(named: ".note.ABI-tag") {
            let notes = try file.notes(in: abiTag)
            #expect(notes.map(\.name) == ["GNU"])
            #expect(notes.first?.type == 1)  // NT_GNU_ABI_TAG
            #expect(notes.first?.descriptor.count == 16)
        }
        if let property = file.section(named: ".note.gnu.property") {
            #expect(property.alignment == 8)
            let notes = try file.notes(in: property)
            #expect(notes.first?.type == 5)  // NT_GNU_PROPERTY_TYPE_0
            #expect((notes.first?.descriptor.count ?? 1) % 8 == 0)
        }

        // A PT_NOTE segment holds the same notes as the sections it covers.
        let segmentNotes = try file.programHeaders.filter { $0.type == .note }.flatMap { try file.notes(in: $0) }
        let sectionNotes = try file.sections(ofType: .note).flatMap { try file.notes(in: $0) }
        #expect(Set(segmentNotes) == Set(sectionNotes))

        let dynamic = try file.dynamicSymbols()
        #expect(dynamic.contains { $0.isUndefined && $0.kind == .func && !$0.name.isEmpty })

        for section in file.sections(ofType: .rela) {
            let relocations = try file.relocations(in: section)
            #expect(relocations.count == Int(section.size) / 24)
            if section.info != 0 {
                #expect(try file.relocationTarget(of: section) != nil)
            }
            for relocation in relocations {
                #expect(Int(relocation.symbolIndex) < dynamic.count)
            }
        }
        let relativeRelocations = try file.sections(ofType: .rela).flatMap { try file.relocations(in: $0) }
        #expect(relativeRelocations.contains { $0.addend != 0 })
    }

    @Test("a path that does not exist gives cannotRead with ENOENT")
    func missingFile() {
        #expect(throws: ELFError.cannotRead(path: "/nonexistent/file.o", operation: "open", errno: ENOENT)) {
            try ELFFile(path: "/nonexistent/file.o")
        }
    }

    @Test("a directory gives cannotRead from read with EISDIR")
    func directory() {
        #expect(throws: ELFError.cannotRead(path: "/", operation: "read", errno: EISDIR)) {
            try ELFFile(path: "/")
        }
    }

    @Test("a file that is not ELF gives notELF")
    func textFile() {
        #expect(throws: ELFError.notELF) {
            try ELFFile(path: Testdata.directory + "/README.md")
        }
    }
}
