/// A type that takes some of a collection's programs, maps and variables by their names in the
/// object: cilium/ebpf's `LoadAndAssign` as a protocol.
///
/// Loading such a type creates only what it names and what those depend on (the maps its
/// programs use, the programs its program arrays hold, the subprograms they call). Objects that
/// were needed only as dependencies are closed once the type is built; the kernel keeps them
/// alive as long as a loaded program refers to them. If anything fails, everything created so
/// far is closed and every pin the load made is removed.
///
/// bpf2swift generates conformances; one can be written by hand as well:
///
/// ```swift
/// struct CounterObjects: CollectionObjects {
///     static let programNames = ["count_execs"]
///     static let mapNames = ["counts"]
///     static let variableNames = ["target_pid"]
///
///     let countExecs: Program
///     let counts: Map
///     let targetPID: Variable
///
///     init(assigning objects: CollectionAssignment) throws(CollectionError) {
///         countExecs = try objects.program("count_execs")
///         counts = try objects.map("counts")
///         targetPID = try objects.variable("target_pid")
///     }
/// }
///
/// let objects = try CounterObjects(loading: spec)
/// ```
public protocol CollectionObjects {
    /// The programs the type takes, by their names in the object.
    static var programNames: [String] { get }
    /// The maps the type takes, by their names in the object (`.rodata` and the other data
    /// sections are maps too).
    static var mapNames: [String] { get }
    /// The global variables the type takes, by name. Their data maps are kept open for them.
    static var variableNames: [String] { get }

    /// Builds the value from the loaded objects. Every name in ``programNames``, ``mapNames``
    /// and ``variableNames`` can be taken from `objects`.
    init(assigning objects: CollectionAssignment) throws(CollectionError)
}

extension CollectionObjects {
    public static var programNames: [String] { [] }
    public static var mapNames: [String] { [] }
    public static var variableNames: [String] { [] }

    /// Loads what the type names from `spec`, and what that depends on, then builds the value.
    ///
    /// - Throws: ``CollectionError``; nothing the load created is left open or pinned.
    public init(loading spec: CollectionSpec, options: CollectionOptions = CollectionOptions()) throws(CollectionError) {
        let selection = CollectionSelection(
            programs: Self.programNames, maps: Self.mapNames, variables: Self.variableNames)
        let collection = try LoadedCollection(spec: spec, selection: selection, options: options)
        let assignment = CollectionAssignment(collection)
        do throws(CollectionError) {
            self = try Self(assigning: assignment)
        } catch {
            collection.closeAfterFailure()
            throw error
        }
        collection.closeAll(except: assignment.keptObjects(selection: selection))
    }
}

/// The objects of a load, handed to ``CollectionObjects/init(assigning:)``. Taking an object
/// by a name the type did not declare throws, as does a name the object lacks.
public struct CollectionAssignment: Sendable {
    let collection: LoadedCollection

    init(_ collection: LoadedCollection) {
        self.collection = collection
    }

    /// The loaded program `name`.
    public func program(_ name: String) throws(CollectionError) -> Program {
        guard let program = collection.programs[name] else {
            throw CollectionError(.assign, .notLoaded(kind: .program, name: name))
        }
        return program
    }

    /// The created (or reused) map `name`.
    public func map(_ name: String) throws(CollectionError) -> Map {
        guard let map = collection.maps[name] else {
            throw CollectionError(.assign, .notLoaded(kind: .map, name: name))
        }
        return map
    }

    /// The global variable `name`, backed by its data map.
    public func variable(_ name: String) throws(CollectionError) -> Variable {
        guard let variable = collection.variables[name] else {
            throw CollectionError(.assign, .notLoaded(kind: .variable, name: name))
        }
        return variable
    }

    /// The names of the maps and programs that stay open after the assignment: the ones asked
    /// for and the data maps of the variables asked for.
    func keptObjects(selection: CollectionSelection) -> (maps: Set<String>, programs: Set<String>) {
        var maps = Set(selection.maps)
        for name in selection.variables {
            if let variable = collection.variables[name] {
                maps.insert(variable.mapName)
            }
        }
        return (maps, Set(selection.programs))
    }
}

/// Which programs, maps and variables of a spec a load creates (together with their
/// dependencies). ``all`` loads everything.
public struct CollectionSelection: Sendable, Hashable {
    public var programs: [String]
    public var maps: [String]
    public var variables: [String]
    /// Whether everything in the spec is loaded, whatever the lists say.
    public var isEverything: Bool

    public init(programs: [String] = [], maps: [String] = [], variables: [String] = []) {
        self.programs = programs
        self.maps = maps
        self.variables = variables
        self.isEverything = false
    }

    /// Every program, map and variable of the spec.
    public static let all: CollectionSelection = {
        var selection = CollectionSelection()
        selection.isEverything = true
        return selection
    }()
}
