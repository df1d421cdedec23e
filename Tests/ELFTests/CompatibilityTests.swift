import EBPFBTF
import EBPFCollection
import EBPFELF
import EBPFELFFile
import Testing
import TestSupport

/// Objects as older compilers and other loaders' users write them: the symbol shapes of clang 7
/// to 9 (made by rewriting symbols of objects the toolchain's clang compiled), static maps, and
/// hidden global functions.
@Suite("Compatibility with older clang and other loaders", .checksFileDescriptorLeaks)
struct CompatibilityTests {
    /// The little-endian object `name` with the symbol table entries `change` returns new
    /// `st_info` fields (and optionally a new `st_name`) for rewritten in place.
    func rewritingSymbols(
        of name: String, _ change: (ELFSymbol) -> (kind: ELFSymbolKind, binding: ELFSymbolBinding, nameOffset: UInt32?)?
    ) throws -> [UInt8] {
        let file = try ELFFile(path: TestData.path("\(name)-el.o"))
        var bytes = file.bytes
        let table = try #require(file.sections.first { $0.type == .symtab })
        for symbol in try file.symbols() {
            guard let (kind, binding, nameOffset) = change(symbol) else { continue }
            let entry = Int(table.offset) + symbol.index * 24
            bytes[entry + 4] = binding.rawValue << 4 | kind.rawValue
            if let nameOffset {
                bytes.replaceSubrange(entry..<(entry + 4), with: (0..<4).map { UInt8(truncatingIfNeeded: nameOffset >> ($0 * 8)) })
            }
        }
        return bytes
    }

    /// clang 7 gave functions STT_NOTYPE symbols (STT_FUNC came with clang 8): global and weak
    /// ones at instruction boundaries are functions, so the spec is the same.
    @Test(arguments: ["subprog", "hidden_func", "sections"])
    func untypedFunctionSymbols(name: String) throws {
        let original = try CollectionSpec(elfFile: TestData.path("\(name)-el.o"))
        var rewritten = 0
        let bytes = try rewritingSymbols(of: name) { symbol in
            guard symbol.kind == .function, symbol.binding != .local else { return nil }
            rewritten += 1
            return (.notype, symbol.binding, nil)
        }
        #expect(rewritten >= 3)
        #expect(try CollectionSpec(elfBytes: bytes) == original)
    }

    /// A local STT_NOTYPE symbol in code is a jump label, not a function: turning a program's
    /// symbol into one leaves its instructions without a function.
    @Test func localUntypedSymbolIsNotAFunction() throws {
        let bytes = try rewritingSymbols(of: "hidden_func") { symbol in
            symbol.name == "calls_hidden" ? (.notype, .local, nil) : nil
        }
        #expect(throws: BPFObjectError.codeWithoutFunction(section: "socket", offset: 0)) {
            try CollectionSpec(elfBytes: bytes)
        }
    }

    /// Anonymous constants (the string literal of `sections.c`): clang 7 referenced them through
    /// local STT_NOTYPE symbols and clang 9 through local STT_OBJECT ones named with a leading dot,
    /// where today's clang uses the section symbol. All three read the same; a dotted name is
    /// compiler-internal and makes no variable (as in cilium/ebpf).
    @Test(arguments: ["clang 7", "clang 9"])
    func anonymousConstantSymbols(clang: String) throws {
        let original = try CollectionSpec(elfFile: TestData.path("sections-el.o"))
        let file = try ELFFile(path: TestData.path("sections-el.o"))
        let rodata = try #require(file.section(named: ".rodata.str1.1"))
        var rewritten = 0
        let bytes = try rewritingSymbols(of: "sections") { symbol in
            guard symbol.kind == .section, symbol.section == rodata.index else { return nil }
            rewritten += 1
            // The section's own name is in the same string table (LLVM shares .strtab).
            return clang == "clang 7" ? (.notype, .local, nil) : (.object, .local, rodata.nameIndex)
        }
        #expect(rewritten == 1)
        let spec = try CollectionSpec(elfBytes: bytes)
        #expect(spec == original)
        #expect(spec.variables[".rodata.str1.1"] == nil)
    }

    /// clang 7 gave map symbols STT_NOTYPE: still maps.
    @Test func untypedMapSymbols() throws {
        let original = try CollectionSpec(elfFile: TestData.path("maps_legacy-el.o"))
        let bytes = try rewritingSymbols(of: "maps_legacy") { symbol in
            symbol.kind == .object && ["execve_counts", "pid_seen"].contains(symbol.name) ? (.notype, .global, nil) : nil
        }
        #expect(try CollectionSpec(elfBytes: bytes) == original)
    }

    /// `static struct bpf_map_def m SEC("maps")`: clang references the map through the section
    /// symbol (testdata/static_map.c); a local map symbol is refused the same way.
    @Test func staticMapIsNamed() throws {
        let reason = "a local symbol names the map: possible static qualifier on a map definition"
        for order in ["el", "eb"] {
            #expect(throws: BPFObjectError.unsupportedRelocation(section: "socket", offset: 72, symbol: "private_counts", reason: reason)) {
                try CollectionSpec(elfFile: TestData.path("static_map-\(order).o"))
            }
        }
        let bytes = try rewritingSymbols(of: "maps_legacy") { symbol in
            symbol.name == "pid_seen" ? (.object, .local, nil) : nil
        }
        #expect(throws: BPFObjectError.unsupportedRelocation(section: "kprobe/sys_execve", offset: 152, symbol: "pid_seen", reason: reason)) {
            try CollectionSpec(elfBytes: bytes)
        }
    }

    /// Hidden global functions, weak or not, are marked; the BTF the loader sends makes them
    /// static and leaves plain global functions global.
    @Test(arguments: ["el", "eb"])
    func hiddenFunctions(order: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("hidden_func-\(order).o"))
        #expect(spec.subprograms["read_hidden"]?.isHidden == true)
        #expect(spec.subprograms["read_hidden_weak"]?.isHidden == true)
        #expect(spec.subprograms["read_checked"]?.isHidden == false)
        #expect(spec.programs["calls_hidden"]?.isHidden == false)
        let types = try #require(spec.types)
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        for (function, linkage) in [("read_hidden", BTFLinkage.static), ("read_hidden_weak", .static), ("read_checked", .global), ("calls_hidden", .global)] {
            let id = try #require(types.typeID(named: function, kind: .function))
            guard case .function(let original) = try types.type(id) else {
                Issue.record("\(function) is not a function")
                continue
            }
            #expect(original.linkage == .global, "\(function) in the object")
            #expect(editor.vlen(of: id) == Int(linkage.rawValue), "\(function)")
        }
    }
}
