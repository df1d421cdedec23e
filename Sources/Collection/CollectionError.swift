import EBPFASM
import EBPFBTF
import EBPFSys

/// A collection load (or assignment) that failed: in which step, for which object, and why.
///
/// `description` reads like `load collection: create map counts: ...` or
/// `load collection: link program xdp_main: call of unknown function helper_fn at instruction 12`.
public struct CollectionError: Error, CustomStringConvertible, Sendable {
    /// The step that failed.
    public var step: Step
    public var reason: Reason

    public init(_ step: Step, _ reason: Reason) {
        self.step = step
        self.reason = reason
    }

    /// What the loader was doing.
    public enum Step: Sendable, Hashable, CustomStringConvertible {
        /// Working out what the selection needs.
        case select
        /// Reading kernel facts: BTF, kconfig, kallsyms.
        case kernel
        /// Loading the object's BTF into the kernel.
        case loadBTF
        /// Creating, reusing or pinning a map.
        case map(String)
        /// Writing a map's initial contents (program arrays, maps of maps) or freezing it.
        case fillMap(String)
        /// Linking a program: subprograms, map, data, kfunc and kernel symbol references.
        case link(String)
        /// Applying CO-RE relocations to a program.
        case relocate(String)
        /// Loading a program into the kernel.
        case program(String)
        /// Handing objects to a ``CollectionObjects`` type.
        case assign
        /// Obtaining a BPF token.
        case token

        public var description: String {
            switch self {
            case .select: "select objects"
            case .kernel: "read kernel facts"
            case .loadBTF: "load BTF"
            case .map(let name): "create map \(name)"
            case .fillMap(let name): "fill map \(name)"
            case .link(let name): "link program \(name)"
            case .relocate(let name): "relocate program \(name)"
            case .program(let name): "load program \(name)"
            case .assign: "assign objects"
            case .token: "create BPF token"
            }
        }
    }

    /// The kind of object a name refers to.
    public enum ObjectKind: String, Sendable, Hashable {
        case program, map, variable, subprogram
        case kernelSymbol = "kernel symbol"
    }

    /// Why.
    public enum Reason: Sendable, CustomStringConvertible {
        /// The spec has no object of this kind and name.
        case notInSpec(kind: ObjectKind, name: String)
        /// The object was not part of the load (a ``CollectionObjects`` type took a name it did
        /// not declare).
        case notLoaded(kind: ObjectKind, name: String)
        /// An instruction refers to something the loader cannot resolve.
        case unresolvedReference(instruction: Int, symbol: String, why: String)
        /// A data reference (`BPF_PSEUDO_MAP_VALUE`) points outside its map's value.
        case dataOffsetOutOfRange(instruction: Int, map: String, offset: UInt32, valueSize: UInt32)
        /// A kernel symbol is missing from the kernel, and the extern is not weak.
        case kernelSymbolNotFound(name: String, kind: ObjectKind)
        /// A kfunc or typed kernel variable exists, but its BTF type differs from the extern's.
        case kernelSymbolMismatch(name: String, why: String)
        /// The attach target of a tracing, LSM or `freplace` program was not found.
        case attachTargetNotFound(program: String, target: String, why: String)
        /// A `.kconfig` value could not be filled.
        case kconfig(name: String, why: String)
        /// The kernel configuration could not be read.
        case kernelConfigUnavailable(String)
        /// A pinned map or a replacement differs from the spec.
        case incompatibleMap(name: String, field: String, expected: String, found: String)
        /// Maps with ``MapPinning/byName`` need ``CollectionOptions/pinPath``.
        case pinPathRequired(map: String)
        /// A pinning mode this loader does not implement (iproute2 namespaces).
        case unsupportedPinning(map: String, pinning: MapPinning)
        /// A variable cannot be read or written.
        case variable(VariableError)
        /// The variable lives in a frozen, read-only section.
        case readOnlyVariable(String)
        case map(MapError)
        case program(ProgramError)
        case btf(BTFError)
        case btfLoad(BTFLoadError)
        case core(COREError)
        case syscall(BPFSyscallError)
        case unsupported(UnsupportedFeatureError)
        /// No BPF token could be made from the BPF file system at `fileSystem`; `why` says what
        /// the kernel's answer means (no delegation, the initial user namespace, not a bpffs root).
        case tokenUnavailable(fileSystem: String, BPFSyscallError, why: String)
        /// A struct_ops map does not fit the running kernel's table, or its programs are missing.
        case structOps(StructOpsError)

        public var description: String {
            switch self {
            case .notInSpec(let kind, let name): "no \(kind.rawValue) named '\(name)' in the spec"
            case .notLoaded(let kind, let name): "\(kind.rawValue) '\(name)' was not part of the load"
            case .unresolvedReference(let instruction, let symbol, let why):
                "instruction \(instruction) refers to '\(symbol)': \(why)"
            case .dataOffsetOutOfRange(let instruction, let map, let offset, let valueSize):
                "instruction \(instruction) refers to byte \(offset) of map '\(map)', whose value has \(valueSize) bytes"
            case .kernelSymbolNotFound(let name, let kind): "\(kind.rawValue) '\(name)' not found in the kernel"
            case .kernelSymbolMismatch(let name, let why): "kernel symbol '\(name)': \(why)"
            case .attachTargetNotFound(let program, let target, let why):
                "attach target '\(target)' of program '\(program)' not found: \(why)"
            case .kconfig(let name, let why): "kconfig '\(name)': \(why)"
            case .kernelConfigUnavailable(let why): "kernel configuration unavailable: \(why)"
            case .incompatibleMap(let name, let field, let expected, let found):
                "map '\(name)' differs in \(field): spec says \(expected), existing map has \(found)"
            case .pinPathRequired(let map): "map '\(map)' is pinned by name, but no pin path was given"
            case .unsupportedPinning(let map, let pinning): "map '\(map)': pinning \(pinning.rawValue) is not supported"
            case .variable(let error): error.description
            case .readOnlyVariable(let name): "variable '\(name)' is read-only once loaded"
            case .map(let error): error.description
            case .program(let error): error.description
            case .btf(let error): "\(error)"
            case .btfLoad(let error): error.description
            case .core(let error): "\(error)"
            case .syscall(let error): "\(error)"
            case .unsupported(let error): error.description
            case .structOps(let error): error.description
            case .tokenUnavailable(let path, let error, let why): "no BPF token from \(path): \(why) (\(error))"
            }
        }
    }

    /// The verifier's verdict, when a program was rejected.
    public var verifierError: VerifierError? {
        if case .program(let error) = reason { return error.verifierError }
        return nil
    }

    public var description: String {
        "load collection: \(step): \(reason)"
    }
}
