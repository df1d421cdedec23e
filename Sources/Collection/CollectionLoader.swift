import EBPFASM
import EBPFBTF
import EBPFSys
import Glibc

/// What a successful load hands to ``LoadedCollection``.
struct LoadedObjects {
    var programs: [String: Program] = [:]
    var maps: [String: Map] = [:]
    var variables: [String: Variable] = [:]
    var replacedMapNames: Set<String> = []
    var createdPins: [String] = []
}

/// One load of a spec (cilium/ebpf's `collectionLoader`): works out what the selection needs,
/// reads what it needs from the running kernel, loads the object's BTF, creates the maps, links,
/// relocates and loads the programs, then fills the maps that hold programs and maps.
///
/// Everything created is recorded as it is created, so that a failure at any step closes it
/// all again and removes the pins this load made.
final class CollectionLoader {
    var spec: CollectionSpec
    let options: CollectionOptions
    /// Whatever was created so far; handed out on success, undone on failure.
    var objects = LoadedObjects()
    /// The object's BTF loaded into the kernel, when the spec has BTF and the kernel takes it.
    var objectBTF: LoadedObjectBTF?
    /// Facts about the running kernel, read once per load when needed.
    lazy var kernel = KernelFacts(options: options)
    /// A BPF token for every object this load creates, when the options give a delegating bpffs;
    /// owned by the loader and closed with it.
    var token: Int32?
    /// The kernel layout of each struct_ops map created, by map name, to fill once programs load.
    var structOpsLayouts: [String: StructOpsLayout] = [:]
    /// The table and member of each struct_ops program, by program name, from the maps that set it.
    var structOpsAttachments: [String: StructOpsAttachment] = [:]
    /// The CO-RE relocator of this load, made on first use so candidates are cached across programs.
    var relocator: CORERelocator?

    init(spec: CollectionSpec, options: CollectionOptions) {
        self.spec = spec
        self.options = options
    }

    deinit {
        if let token {
            Glibc.close(token)
        }
    }

    func load(_ selection: CollectionSelection) throws(CollectionError) -> LoadedObjects {
        do throws(CollectionError) {
            try loadAll(selection)
        } catch {
            undo()
            throw error
        }
        try? objectBTF?.handle.close()
        return objects
    }

    private func loadAll(_ selection: CollectionSelection) throws(CollectionError) {
        if let path = options.tokenFileSystemPath {
            token = try createToken(fileSystem: path).relinquish()
        }
        var needed = try dependencies(of: selection)
        // Taken out of `needed` so that each linked program has one owner, and resolving its
        // references changes its instructions in place instead of copying them.
        var linked = needed.linkedPrograms
        needed.linkedPrograms = [:]
        if needed.maps.contains(KernelConfig.mapName) {
            try fillKernelConfig()
        }
        if spec.types != nil {
            objectBTF = try loadObjectBTF(programs: linked)
        }
        for name in needed.maps.sorted() {
            try createMap(name)
        }
        for name in needed.programs.sorted() {
            guard var program = linked.removeValue(forKey: name) else { continue }
            if program.type == .structOps, structOpsAttachments[name] == nil {
                // Like libbpf, a whole-object load leaves out struct_ops programs no struct_ops
                // map sets: without a table the kernel cannot verify them.
                guard selection.isEverything else {
                    throw CollectionError(
                        .program(name),
                        .structOps(StructOpsError(map: "", reason: .programWithoutTable(program: name))))
                }
                continue
            }
            try loadProgram(&program, references: needed.linkedReferences[name])
        }
        for name in needed.maps.sorted() {
            try fillReferences(ofMap: name)
            try fillStructOps(ofMap: name)
        }
        for name in needed.variables.sorted() {
            guard let variableSpec = spec.variables[name], let map = objects.maps[variableSpec.mapName] else {
                throw CollectionError(.select, .notInSpec(kind: .variable, name: name))
            }
            objects.variables[name] = Variable(spec: variableSpec, map: map)
        }
    }

    /// Closes what was created and removes the pins made.
    private func undo() {
        for program in objects.programs.values {
            try? program.close()
        }
        for (name, map) in objects.maps where !objects.replacedMapNames.contains(name) {
            try? map.close()
        }
        for path in objects.createdPins {
            _ = unlink(path)
        }
        try? objectBTF?.handle.close()
        objects = LoadedObjects()
    }

    // MARK: - What the selection needs

    struct Needed {
        var programs: Set<String> = []
        var maps: Set<String> = []
        var variables: Set<String> = []
        /// Each needed program linked with its functions, linked once for finding its maps and
        /// kept for loading.
        var linkedPrograms: [String: ProgramSpec] = [:]
        /// The indices of each linked program's instructions that have a symbol reference.
        var linkedReferences: [String: [Int]] = [:]
    }

    /// The selection closed over its dependencies: the maps programs refer to (after linking,
    /// so subprograms count), the programs and maps that maps hold, the maps variables live in.
    func dependencies(of selection: CollectionSelection) throws(CollectionError) -> Needed {
        var needed = Needed()
        var linkCache = LinkCache()
        var programQueue: [String]
        var mapQueue: [String]
        if selection.isEverything {
            programQueue = Array(spec.programs.keys)
            mapQueue = Array(spec.maps.keys)
            needed.variables = Set(spec.variables.keys)
        } else {
            for name in selection.programs where spec.programs[name] == nil {
                throw CollectionError(.select, .notInSpec(kind: .program, name: name))
            }
            for name in selection.maps where spec.maps[name] == nil {
                throw CollectionError(.select, .notInSpec(kind: .map, name: name))
            }
            programQueue = selection.programs
            mapQueue = selection.maps
            for name in selection.variables {
                guard let variable = spec.variables[name] else {
                    throw CollectionError(.select, .notInSpec(kind: .variable, name: name))
                }
                needed.variables.insert(name)
                mapQueue.append(variable.mapName)
            }
        }
        while !programQueue.isEmpty || !mapQueue.isEmpty {
            if let name = programQueue.popLast() {
                guard needed.programs.insert(name).inserted else { continue }
                let linked = try spec.linkedProgram(named: name, cache: &linkCache)
                needed.linkedPrograms[name] = linked.program
                needed.linkedReferences[name] = linked.references
                if linked.program.type == .structOps {
                    // The table a struct_ops program is loaded for comes from the maps that set it.
                    for (mapName, map) in spec.maps where map.type == .structOps && map.structOpsPrograms.values.contains(name) {
                        mapQueue.append(mapName)
                    }
                }
                // A program names the same few maps again and again; each is looked up once.
                var mapsOfProgram: [String] = []
                for index in linked.references {
                    let instruction = linked.program.instructions[index]
                    guard let symbol = instruction.symbolReference, instruction.referencesMap,
                        !mapsOfProgram.contains(symbol)
                    else { continue }
                    mapsOfProgram.append(symbol)
                    guard spec.maps[symbol] != nil else {
                        throw CollectionError(
                            .link(name), .unresolvedReference(instruction: 0, symbol: symbol, why: "no map of this name"))
                    }
                    mapQueue.append(symbol)
                }
                continue
            }
            if let name = mapQueue.popLast() {
                guard needed.maps.insert(name).inserted, let map = spec.maps[name] else { continue }
                for entry in map.contents {
                    switch entry.value {
                    case .bytes: continue
                    case .program(let program):
                        guard spec.programs[program] != nil else {
                            throw CollectionError(.fillMap(name), .notInSpec(kind: .program, name: program))
                        }
                        programQueue.append(program)
                    case .map(let inner):
                        guard spec.maps[inner] != nil else {
                            throw CollectionError(.fillMap(name), .notInSpec(kind: .map, name: inner))
                        }
                        mapQueue.append(inner)
                    }
                }
                for (member, program) in map.structOpsPrograms.sorted(by: { $0.key < $1.key }) {
                    guard spec.programs[program] != nil else {
                        throw CollectionError(
                            .map(name), .structOps(StructOpsError(map: name, reason: .programNotFound(member: member, program: program))))
                    }
                    programQueue.append(program)
                }
            }
        }
        return needed
    }
}

extension Instruction {
    /// A `lddw` of a map's descriptor or of an address in a map's value, naming the map.
    var referencesMap: Bool {
        guard let source = loadImmediateSource else { return false }
        return source == .mapFileDescriptor || source == .mapValue
    }
}
