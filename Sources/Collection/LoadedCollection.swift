import EBPFSys
import Glibc

/// The programs, maps and variables of a ``CollectionSpec`` loaded into the kernel (cilium/ebpf's
/// `Collection`; not named so because `Collection` is the standard library's).
///
/// ```swift
/// let spec = try CollectionSpec(elfFile: "counter.bpf.o")
/// let collection = try LoadedCollection(spec: spec)
/// defer { collection.close() }
/// let run = try collection.program("count_packets").testRun(data: packet)
/// let count = try collection.map("counts").lookup(UInt32(0), as: UInt64.self)
/// ```
///
/// Closing the collection closes every object it holds, except maps given as
/// ``CollectionOptions/mapReplacements``. Pins stay: they are meant to outlive the process.
public final class LoadedCollection: Sendable {
    /// The loaded programs by their names in the object.
    public let programs: [String: Program]
    /// The created, reused (pinned) or replaced maps by their names in the object.
    public let maps: [String: Map]
    /// The global variables by name, each backed by one of ``maps``.
    public let variables: [String: Variable]
    /// Names of the maps that were given as replacements; the collection never closes them.
    let replacedMapNames: Set<String>
    /// Pins this load created, removed again when the load (or an assignment) fails.
    let createdPins: [String]

    /// The paths this load pinned maps at (maps pinned by name that had no pin yet). They
    /// outlive the collection: closing it leaves them, as libbpf and bpftool leave theirs.
    public var createdPinPaths: [String] { createdPins }

    init(
        programs: [String: Program], maps: [String: Map], variables: [String: Variable],
        replacedMapNames: Set<String>, createdPins: [String]
    ) {
        self.programs = programs
        self.maps = maps
        self.variables = variables
        self.replacedMapNames = replacedMapNames
        self.createdPins = createdPins
    }

    /// Loads every program, map and variable of `spec`.
    ///
    /// - Throws: ``CollectionError``; nothing created by the load is left open or pinned.
    public convenience init(spec: CollectionSpec, options: CollectionOptions = CollectionOptions()) throws(CollectionError) {
        try self.init(spec: spec, selection: .all, options: options)
    }

    /// Loads the programs, maps and variables `selection` names and what they depend on: the
    /// maps the programs use, the programs and maps the selected maps hold, the subprograms
    /// the programs call.
    public convenience init(
        spec: CollectionSpec, selection: CollectionSelection, options: CollectionOptions = CollectionOptions()
    ) throws(CollectionError) {
        let loaded = try CollectionLoader(spec: spec, options: options).load(selection)
        self.init(
            programs: loaded.programs, maps: loaded.maps, variables: loaded.variables,
            replacedMapNames: loaded.replacedMapNames, createdPins: loaded.createdPins)
    }

    /// The program `name`.
    public func program(_ name: String) throws(CollectionError) -> Program {
        guard let program = programs[name] else { throw CollectionError(.assign, .notLoaded(kind: .program, name: name)) }
        return program
    }

    /// The map `name`.
    public func map(_ name: String) throws(CollectionError) -> Map {
        guard let map = maps[name] else { throw CollectionError(.assign, .notLoaded(kind: .map, name: name)) }
        return map
    }

    /// The variable `name`.
    public func variable(_ name: String) throws(CollectionError) -> Variable {
        guard let variable = variables[name] else {
            throw CollectionError(.assign, .notLoaded(kind: .variable, name: name))
        }
        return variable
    }

    /// Builds a ``CollectionObjects`` value from objects of this collection (cilium's
    /// `Collection.Assign`). The objects are shared: closing the collection closes them too.
    public func assign<Objects: CollectionObjects>(to type: Objects.Type = Objects.self) throws(CollectionError) -> Objects {
        try Objects(assigning: CollectionAssignment(self))
    }

    /// Closes every program and map (maps given as replacements excepted). Pins stay.
    public func close() {
        closeAll(except: ([], []))
    }

    /// Closes the objects not named in `kept`.
    func closeAll(except kept: (maps: Set<String>, programs: Set<String>)) {
        for (name, program) in programs where !kept.programs.contains(name) {
            try? program.close()
        }
        for (name, map) in maps where !kept.maps.contains(name) && !replacedMapNames.contains(name) {
            try? map.close()
        }
    }

    /// Undoes the load: closes everything and removes the pins it created.
    func closeAfterFailure() {
        close()
        for path in createdPins {
            _ = unlink(path)
        }
    }
}
