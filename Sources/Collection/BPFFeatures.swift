import EBPFASM
import EBPFSys
import Synchronization

/// Memoised probes of what the running kernel supports, as cilium's `features` package: map
/// types, program types, helpers per program type, and a few other features loaders depend on.
///
/// A probe runs only when asked, at most once per process for a definite answer (a failure such
/// as a missing capability is not remembered). It creates a small map or loads a tiny program and
/// closes it again. Probes are thread-safe.
///
/// ```swift
/// if try BPFFeatures.isSupported(MapType.ringbuf) { ... }
/// try BPFFeatures.checkHelper(.getAttachCookie, in: .kprobe)   // throws .unsupported(...) when absent
/// ```
public enum BPFFeatures {
    // MARK: - Map types

    /// Succeeds when the kernel can create maps of `type`.
    /// - Throws: ``FeatureProbeError/unsupported(_:)`` naming the type and its minimum kernel.
    public static func checkMapType(_ type: MapType) throws(FeatureProbeError) {
        try mapTypes.answer(for: type) { () throws(FeatureProbeError) in try probeMapType(type) }
    }

    /// Whether the kernel can create maps of `type`.
    public static func isSupported(_ type: MapType) throws(FeatureProbeError) -> Bool {
        try yesOrNo { () throws(FeatureProbeError) in try checkMapType(type) }
    }

    // MARK: - Program types

    /// Succeeds when the kernel can load programs of `type`.
    public static func checkProgramType(_ type: ProgramType) throws(FeatureProbeError) {
        try programTypes.answer(for: type) { () throws(FeatureProbeError) in try probeProgramType(type) }
    }

    /// Whether the kernel can load programs of `type`.
    public static func isSupported(_ type: ProgramType) throws(FeatureProbeError) -> Bool {
        try yesOrNo { () throws(FeatureProbeError) in try checkProgramType(type) }
    }

    // MARK: - Helpers

    /// Succeeds when programs of `programType` may call `helper`.
    ///
    /// Loads `call helper; r0 = 0; exit`: the verifier names a helper it does not know ("invalid
    /// func", "unknown func") or one the program type may not call ("cannot use helper") before it
    /// looks at the arguments, so any other outcome means the helper is there.
    public static func checkHelper(_ helper: HelperFunction, in programType: ProgramType) throws(FeatureProbeError) {
        try helpers.answer(for: HelperKey(helper: helper, programType: programType)) { () throws(FeatureProbeError) in
            try probeHelper(helper, in: programType)
        }
    }

    /// Whether programs of `programType` may call `helper`.
    public static func isHelperSupported(_ helper: HelperFunction, in programType: ProgramType) throws(FeatureProbeError) -> Bool {
        try yesOrNo { () throws(FeatureProbeError) in try checkHelper(helper, in: programType) }
    }

    // MARK: - Other features

    /// Succeeds when the kernel has `feature`.
    public static func check(_ feature: MiscFeature) throws(FeatureProbeError) {
        try miscFeatures.answer(for: feature) { () throws(FeatureProbeError) in try probeMisc(feature) }
    }

    /// Whether the kernel has `feature`.
    public static func isSupported(_ feature: MiscFeature) throws(FeatureProbeError) -> Bool {
        try yesOrNo { () throws(FeatureProbeError) in try check(feature) }
    }

    // MARK: - Memoisation

    struct HelperKey: Hashable, Sendable {
        var helper: HelperFunction
        var programType: ProgramType
    }

    static let mapTypes = ProbeCache<MapType>()
    static let programTypes = ProbeCache<ProgramType>()
    static let helpers = ProbeCache<HelperKey>()
    static let miscFeatures = ProbeCache<MiscFeature>()

    private static func yesOrNo(_ check: () throws(FeatureProbeError) -> Void) throws(FeatureProbeError) -> Bool {
        do {
            try check()
            return true
        } catch {
            if case .unsupported = error { return false }
            throw error
        }
    }
}

/// Features that are neither a map type, a program type nor a helper.
public struct MiscFeature: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Programs of up to a million instructions (`BPF_COMPLEXITY_LIMIT_INSNS`) instead of 4096.
    /// Linux 5.2.
    public static let largeInstructions = MiscFeature(rawValue: "large instruction limit")
    /// Loops the verifier can bound (backward jumps). Linux 5.3.
    public static let boundedLoops = MiscFeature(rawValue: "bounded loops")
    /// Instruction set v2: `jlt`, `jle`, `jslt`, `jsle`. Linux 4.14.
    public static let instructionSetV2 = MiscFeature(rawValue: "instruction set v2")
    /// Instruction set v3: 32-bit jumps (`BPF_JMP32`). Linux 5.1.
    public static let instructionSetV3 = MiscFeature(rawValue: "instruction set v3")
    /// Instruction set v4: sign extension, signed division, `gotol`, unconditional byte swaps.
    /// Linux 6.6.
    public static let instructionSetV4 = MiscFeature(rawValue: "instruction set v4")
    /// BPF cookies (`bpf_get_attach_cookie`) in tracing programs. Linux 5.15.
    public static let bpfCookie = MiscFeature(rawValue: "BPF cookie")
    /// uprobe.multi links (`BPF_TRACE_UPROBE_MULTI`): one link for many offsets of a file.
    /// Linux 6.6.
    public static let uprobeMulti = MiscFeature(rawValue: "uprobe.multi links")

    public var description: String { rawValue }

    /// The first mainline version with the feature.
    var minimumKernelVersion: String? {
        switch self {
        case .largeInstructions: "5.2"
        case .boundedLoops: "5.3"
        case .instructionSetV2: "4.14"
        case .instructionSetV3: "5.1"
        case .instructionSetV4: "6.6"
        case .bpfCookie: "5.15"
        case .uprobeMulti: "6.6"
        default: nil
        }
    }
}

/// Definite probe answers by key. Only "supported" and "unsupported" are remembered.
final class ProbeCache<Key: Hashable & Sendable>: Sendable {
    private enum Outcome {
        case supported
        case unsupported(UnsupportedFeatureError)
    }

    private let outcomes = Mutex<[Key: Outcome]>([:])

    /// The remembered answer for `key`, or the answer of `probe`, remembered if definite. The lock
    /// is not held while probing, so probes of other keys run in parallel; two threads that probe
    /// the same key at once both run it and agree.
    func answer(for key: Key, probe: () throws(FeatureProbeError) -> Void) throws(FeatureProbeError) {
        switch outcomes.withLock({ $0[key] }) {
        case .supported?:
            return
        case .unsupported(let error)?:
            throw .unsupported(error)
        case nil:
            break
        }
        do {
            try probe()
            outcomes.withLock { $0[key] = .supported }
        } catch {
            if case .unsupported(let missing) = error {
                outcomes.withLock { $0[key] = .unsupported(missing) }
            }
            throw error
        }
    }
}
