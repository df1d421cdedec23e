import EBPF

/// `ebpf load`: loads each program of an object on its own, with the maps and programs it needs,
/// and reports per program, the way one checks which programs of an object this kernel takes.
enum Load {
    /// What loading one program gave: 0, or the negative errno the kernel (or, for failures
    /// before any system call, the loader) reported, with the error.
    struct Outcome {
        var program: String
        var status: Int32
        var error: CollectionError?
        /// The pins the load created (maps pinned by name under `--pin-path`).
        var createdPins: [String] = []
    }

    /// Loads every program of `spec`, one at a time, closing each again.
    static func loadEach(_ spec: CollectionSpec, options: CollectionOptions = CollectionOptions()) -> [Outcome] {
        spec.programs.keys.sorted().map { name in
            do throws(CollectionError) {
                let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(programs: [name]), options: options)
                collection.close()
                return Outcome(program: name, status: 0, error: nil, createdPins: collection.createdPinPaths)
            } catch {
                return Outcome(program: name, status: -status(of: error), error: error)
            }
        }
    }

    /// The errno that best names a failure: the kernel's when a system call failed; for
    /// failures found before any call, the errno libbpf reports for the same case.
    static func status(of error: CollectionError) -> Int32 {
        switch error.reason {
        case .program(let program):
            if let verifier = program.verifierError { return verifier.errno.rawValue }
            if case .syscall(let syscall) = program.reason { return syscall.errno.rawValue }
            return Errno.invalidArgument.rawValue
        case .map(let map):
            return map.syscallError?.errno.rawValue ?? Errno.invalidArgument.rawValue
        case .syscall(let syscall), .tokenUnavailable(_, let syscall, _):
            return syscall.errno.rawValue
        case .btfLoad(let btf):
            if case .rejected(let syscall) = btf { return syscall.errno.rawValue }
            if case .probeFailed(_, let syscall) = btf { return syscall.errno.rawValue }
            return Errno.invalidArgument.rawValue
        case .kernelSymbolNotFound, .attachTargetNotFound, .core:
            return Errno.noSuchProcess.rawValue  // ESRCH, as libbpf
        case .unsupported:
            return Errno.notSupported.rawValue
        case .structOps(let structOps):
            // libbpf reports a table or member the kernel lacks as ENOTSUP.
            switch structOps.reason {
            case .kernelTypeNotFound, .memberNotInKernel: return Errno.notSupported.rawValue
            default: return Errno.invalidArgument.rawValue
            }
        case .btf, .kernelConfigUnavailable:
            return Errno.noSuchFileOrDirectory.rawValue
        default:
            return Errno.invalidArgument.rawValue
        }
    }

    /// `{"<program>": 0 or -errno, ...}`, sorted by program name.
    static func json(_ outcomes: [Outcome]) -> String {
        "{" + outcomes.map { Inspect.string($0.program) + ":" + String($0.status) }.joined(separator: ",") + "}"
    }

    /// One line per program, and for each failure the error with the verifier log's tail.
    static func text(_ outcomes: [Outcome]) -> String {
        var lines: [String] = []
        for outcome in outcomes {
            guard let error = outcome.error else {
                lines.append("\(outcome.program): loaded")
                continue
            }
            lines.append("\(outcome.program): failed (\(outcome.status))")
            for line in error.description.split(separator: "\n", omittingEmptySubsequences: false) {
                lines.append("  " + line)
            }
        }
        let loaded = outcomes.filter { $0.status == 0 }.count
        lines.append("\(loaded) of \(outcomes.count) programs loaded")
        lines.append(contentsOf: pinLines(outcomes))
        return lines.joined(separator: "\n")
    }

    /// "pinned PATH" for each pin the loads created; they stay after the command, as bpftool's do.
    static func pinLines(_ outcomes: [Outcome]) -> [String] {
        outcomes.flatMap(\.createdPins).map { "pinned \($0) (left in place; remove it with rm)" }
    }
}
