import EBPFBTF
import EBPFCollection
import EBPFELF
import Testing
import TestSupport

/// Tier 1: the loader's fix-ups of an object's BTF (made in place on its raw records) give, for
/// every testdata object, the types the kernel needs under the same ids: each rule of
/// `CollectionSpec.fixUpForKernel(_:)` checked against the object's own types, everything else
/// left as it was, and the blob sanitiser agreeing with the graph sanitiser on the result.
@Suite("Object BTF fixed up in place")
struct KernelBTFFixUpTests {
    /// Every object the object reader reads (``TestData/refusedObjectStems`` are refused on purpose).
    static let objects = TestData.readableObjectNames()

    @Test(arguments: objects)
    func fixUpsGiveWhatTheKernelNeeds(name: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path(name))
        let types = try #require(spec.types, "\(name) has BTF")
        let original = try types.typeGraph()
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        let fixed = try BTFSpec(bytes: try editor.bytes()).typeGraph()
        try Self.checkFixUps(of: spec, original: original, fixed: fixed, object: name)
        #expect(editor.requiredFeatures == BTFFeatures(requiredBy: fixed), "\(name)")
        let supportedSets: [BTFFeatures] = [[], .all] + BTFFeatures.all.elements.map { BTFFeatures.all.subtracting($0) }
        for supported in supportedSets {
            var sanitized = editor
            try sanitized.sanitize(for: supported)
            let edited = try BTFSpec(bytes: try sanitized.bytes())
            #expect(try edited.typeGraph().types == fixed.sanitized(for: supported).types, "\(name) supported \(supported)")
        }
    }

    /// Compares each original type with its fixed-up form, rule by rule.
    static func checkFixUps(of spec: CollectionSpec, original: BTFTypeGraph, fixed: BTFTypeGraph, object: String) throws {
        let hidden = Set(spec.subprograms.filter { $0.value.isHidden }.map(\.key))
        var changedPrototypes: Set<BTFTypeID> = []
        var retypedVariables: Set<BTFTypeID> = []
        for index in 1..<original.types.count {
            let id = BTFTypeID(UInt32(index))
            let before = original.types[index]
            let after = try #require(fixed[id], "\(object): type \(id) kept")
            switch before {
            case .function(let function) where function.linkage == .extern:
                guard case .function(let fixedFunction) = after else {
                    Issue.record("\(object): \(id) is no function any more")
                    continue
                }
                #expect(fixedFunction.linkage == .static, "\(object): extern function \(function.name) becomes static")
                #expect(fixedFunction.prototype == function.prototype)
                guard case .functionPrototype(let prototype)? = original[function.prototype],
                    case .functionPrototype(let fixedPrototype)? = fixed[function.prototype]
                else { continue }
                changedPrototypes.insert(function.prototype)
                #expect(fixedPrototype.returnType == prototype.returnType)
                #expect(fixedPrototype.parameters.count == prototype.parameters.count)
                for (position, (parameter, fixedParameter)) in zip(prototype.parameters, fixedPrototype.parameters).enumerated() {
                    #expect(fixedParameter.type == parameter.type)
                    let expected = parameter.name.isEmpty && parameter.type != .void ? "arg\(position + 1)" : parameter.name
                    #expect(fixedParameter.name == expected, "\(object): parameter \(position) of \(function.name)")
                }
            case .function(let function) where function.linkage == .global && hidden.contains(function.name):
                #expect(after == .function(BTFFunction(name: function.name, prototype: function.prototype, linkage: .static)), "\(object): hidden \(function.name)")
            case .variable(let variable) where variable.linkage == .extern:
                guard case .variable(let fixedVariable) = after else {
                    Issue.record("\(object): \(id) is no variable any more")
                    continue
                }
                #expect(fixedVariable.name == variable.name)
                #expect(fixedVariable.linkage == .global, "\(object): extern \(variable.name) becomes global")
                if fixedVariable.type != variable.type { retypedVariables.insert(id) }
            case .dataSection(let section):
                guard case .dataSection(let fixedSection) = after else {
                    Issue.record("\(object): \(id) is no data section any more")
                    continue
                }
                #expect(fixedSection.name == section.name)
                try checkDataSection(section, fixed: fixedSection, spec: spec, original: original, fixed: fixed, object: object)
                if spec.maps[section.name] == nil {
                    for entry in fixedSection.variables where entry.type.rawValue < UInt32(original.types.count) {
                        retypedVariables.insert(entry.type)
                    }
                }
            default:
                continue
            }
        }
        // Whatever no rule touches stays as it was.
        for index in 1..<original.types.count {
            let id = BTFTypeID(UInt32(index))
            switch original.types[index] {
            case .function(let function) where function.linkage == .extern || (function.linkage == .global && hidden.contains(function.name)):
                continue
            case .variable(let variable) where variable.linkage == .extern:
                continue
            case .dataSection:
                continue
            default:
                if changedPrototypes.contains(id) || retypedVariables.contains(id) { continue }
                #expect(fixed[id] == original.types[index], "\(object): type \(id) unchanged")
            }
        }
    }

    /// A data section with a map (the arena's, for `.addr_space.1`) takes the map's size and the variables' offsets and sizes from
    /// their specs, in offset order; one without (`.ksyms`) becomes 4-byte `int` variables.
    static func checkDataSection(
        _ section: BTFDataSection, fixed fixedSection: BTFDataSection, spec: CollectionSpec, original: BTFTypeGraph,
        fixed: BTFTypeGraph, object: String
    ) throws {
        // `__arena` globals belong to the arena map, and their section is as large as they are.
        let arena = section.name == CollectionSpec.arenaGlobalsSection ? spec.arenaGlobalsMap : nil
        if let map = arena ?? spec.maps[section.name] {
            let size = arena?.arenaGlobals.map { UInt32($0.count) } ?? map.valueSize
            #expect(fixedSection.size == size, "\(object): \(section.name) size")
            #expect(fixedSection.variables.map(\.offset) == fixedSection.variables.map(\.offset).sorted())
            #expect(Set(fixedSection.variables.map(\.type)) == Set(section.variables.map(\.type)))
            for entry in fixedSection.variables {
                guard case .variable(let variable)? = original[entry.type],
                    let variableSpec = spec.variables[variable.name], variableSpec.mapName == map.name
                else { continue }
                #expect(entry.offset == variableSpec.offset, "\(object): \(variable.name) offset")
                #expect(entry.size == variableSpec.size, "\(object): \(variable.name) size")
            }
            return
        }
        #expect(fixedSection.size == UInt32(section.variables.count * 4), "\(object): \(section.name) size")
        #expect(fixedSection.variables.count == section.variables.count)
        for (position, (entry, fixedEntry)) in zip(section.variables, fixedSection.variables).enumerated() {
            #expect(fixedEntry.offset == UInt32(position * 4))
            #expect(fixedEntry.size == 4)
            guard case .variable(let variable)? = fixed[fixedEntry.type],
                case .int(let integer)? = fixed[variable.type]
            else {
                Issue.record("\(object): \(section.name) entry \(position) is no int variable")
                continue
            }
            #expect(variable.linkage == .global)
            #expect(integer.name == "int" && integer.size == 4 && integer.encoding == .signed)
            if case .variable(let originalVariable)? = original[entry.type] {
                #expect(fixedEntry.type == entry.type, "\(object): a kernel variable keeps its id")
                #expect(variable.name == originalVariable.name)
            } else {
                #expect(variable.name == (original[entry.type]?.name ?? ""), "\(object): a kfunc's variable is named after it")
            }
        }
    }

    @Test func lineInfoStringsKeepTheirObjectOffsets() throws {
        let spec = try CollectionSpec(elfFile: TestData.path("collection-el.o"))
        let types = try #require(spec.types)
        var editor = BTFBlobEditor(types)
        try spec.fixUpForKernel(&editor)
        let edited = try BTFSpec(bytes: try editor.bytes())
        var checked = 0
        for program in spec.programs.values {
            for info in program.lineInfos {
                let offsets = try #require(info.stringOffsets(in: types))
                #expect(edited.string(at: offsets.fileName) == info.fileName)
                #expect(edited.string(at: offsets.line) == info.line)
                checked += 1
            }
        }
        #expect(checked > 0)
    }
}
