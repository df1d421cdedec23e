import EBPFSys

/// The running kernel lacks a feature. Names the feature and, where known, the first Linux
/// version that has it.
///
/// `description` reads like `BPF_MAP_TYPE_ARENA is not supported by this kernel (requires Linux 6.9)`.
public struct UnsupportedFeatureError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What is missing, for instance `BPF_MAP_TYPE_RINGBUF` or `helper bpf_get_attach_cookie#174
    /// in BPF_PROG_TYPE_TRACEPOINT`.
    public var feature: String
    /// The first mainline Linux version with the feature (`"5.8"`), nil when not recorded.
    public var minimumKernelVersion: String?

    public init(feature: String, minimumKernelVersion: String? = nil) {
        self.feature = feature
        self.minimumKernelVersion = minimumKernelVersion
    }

    public var description: String {
        var text = "\(feature) is not supported by this kernel"
        if let minimumKernelVersion {
            text += " (requires Linux \(minimumKernelVersion))"
        }
        return text
    }
}

/// A feature probe could not give a yes: the feature is missing, or the probe itself failed.
public enum FeatureProbeError: Error, CustomStringConvertible, Sendable {
    /// The kernel lacks the feature.
    case unsupported(UnsupportedFeatureError)
    /// The probe failed for another reason (typically `EPERM`: the process may not use BPF), so
    /// the answer is unknown. Not memoised: a later probe runs again.
    case probeFailed(feature: String, BPFSyscallError)
    /// This feature cannot be probed in this form (for instance a helper in a program type that
    /// only loads against a kernel function).
    case notProbeable(feature: String, reason: String)

    /// The missing feature, when that is why the probe said no.
    public var unsupportedFeature: UnsupportedFeatureError? {
        if case .unsupported(let error) = self { return error }
        return nil
    }

    public var description: String {
        switch self {
        case .unsupported(let error):
            return error.description
        case .probeFailed(let feature, let error):
            return "probing \(feature): \(error)"
        case .notProbeable(let feature, let reason):
            return "probing \(feature): \(reason)"
        }
    }
}
