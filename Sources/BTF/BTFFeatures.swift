import EBPFSys
import Synchronization

/// BTF kinds and flags that came to the kernel after BTF itself: a kernel without one rejects a
/// whole blob that uses it, so loaders replace them first (`BTFTypeGraph.sanitized(for:)`).
public struct BTFFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BTF_KIND_FUNC` and `BTF_KIND_FUNC_PROTO`. Linux 5.0.
    public static let functions = BTFFeatures(rawValue: 1 << 0)
    /// Functions with `BTF_FUNC_GLOBAL` linkage (and `BTF_FUNC_EXTERN` in a `.ksyms` section).
    /// Linux 5.6.
    public static let globalFunctions = BTFFeatures(rawValue: 1 << 1)
    /// `BTF_KIND_VAR` and `BTF_KIND_DATASEC`. Linux 5.2.
    public static let dataSections = BTFFeatures(rawValue: 1 << 2)
    /// `BTF_KIND_FLOAT`. Linux 5.13.
    public static let floats = BTFFeatures(rawValue: 1 << 3)
    /// `BTF_KIND_DECL_TAG`. Linux 5.16.
    public static let declarationTags = BTFFeatures(rawValue: 1 << 4)
    /// `BTF_KIND_TYPE_TAG`. Linux 5.17.
    public static let typeTags = BTFFeatures(rawValue: 1 << 5)
    /// `BTF_KIND_ENUM64`, and the kind_flag that marks an enum signed. Linux 6.0.
    public static let enum64 = BTFFeatures(rawValue: 1 << 6)

    /// Every feature this type knows.
    public static let all: BTFFeatures = [
        .functions, .globalFunctions, .dataSections, .floats, .declarationTags, .typeTags, .enum64,
    ]

    /// The single features in this set, in a fixed order.
    public var elements: [BTFFeatures] {
        (0..<32).compactMap { bit in
            let feature = BTFFeatures(rawValue: 1 << UInt32(bit))
            return contains(feature) ? feature : nil
        }
    }

    /// The first kernel version that accepts a single feature; nil for sets and unknown bits.
    public var minimumKernelVersion: String? {
        switch self {
        case .functions: "5.0"
        case .globalFunctions: "5.6"
        case .dataSections: "5.2"
        case .floats: "5.13"
        case .declarationTags: "5.16"
        case .typeTags: "5.17"
        case .enum64: "6.0"
        default: nil
        }
    }

    public var description: String {
        let names = elements.map { feature -> String in
            switch feature {
            case .functions: "BTF_KIND_FUNC"
            case .globalFunctions: "BTF_FUNC_GLOBAL"
            case .dataSections: "BTF_KIND_DATASEC"
            case .floats: "BTF_KIND_FLOAT"
            case .declarationTags: "BTF_KIND_DECL_TAG"
            case .typeTags: "BTF_KIND_TYPE_TAG"
            case .enum64: "BTF_KIND_ENUM64"
            default: "feature 0x\(String(feature.rawValue, radix: 16))"
            }
        }
        return names.isEmpty ? "[]" : names.joined(separator: ", ")
    }

    /// The features the own types of `graph` use.
    public init(requiredBy graph: BTFTypeGraph) {
        var required: BTFFeatures = []
        for type in graph.ownTypes {
            switch type {
            case .function(let t):
                required.insert(.functions)
                if t.linkage != .static { required.insert(.globalFunctions) }
            case .functionPrototype: required.insert(.functions)
            case .variable, .dataSection: required.insert(.dataSections)
            case .float: required.insert(.floats)
            case .declarationTag: required.insert(.declarationTags)
            case .typeTag: required.insert(.typeTags)
            case .enum64: required.insert(.enum64)
            case .enum(let t) where t.isSigned: required.insert(.enum64)
            default: break
            }
        }
        self = required
    }
}

// MARK: - Probing

/// Finds out which `BTFFeatures` a kernel accepts, asking each question at most once.
///
/// The default probe loads a tiny blob that uses only that feature with `BPF_BTF_LOAD`: the
/// kernel answers `EINVAL` for a kind or flag it does not know. Tests inject their own probe, and
/// `runCount(of:)` says how often each one ran.
///
/// ```swift
/// let missing = BTFFeatures.all.subtracting(try BTFFeatureProbes.kernel.supported(.all))
/// ```
public final class BTFFeatureProbes: Sendable {
    /// Answers whether the kernel accepts one feature.
    public typealias Probe = @Sendable (BTFFeatures) throws(BTFLoadError) -> Bool

    /// The probes of the running kernel, shared by the process.
    public static let kernel = BTFFeatureProbes()

    private let probe: Probe
    private let state = Mutex(State())

    private struct State {
        var answers: [UInt32: Bool] = [:]
        var runs: [UInt32: Int] = [:]
    }

    /// Probes with `probe`, or by loading blobs into the running kernel.
    public init(probe: @escaping Probe = BTFFeatureProbes.loadProbeBlob) {
        self.probe = probe
    }

    /// Whether the kernel accepts every feature in `feature`, probing each one not asked before.
    ///
    /// A probe that throws is not remembered: the next call asks again.
    public func supports(_ feature: BTFFeatures) throws(BTFLoadError) -> Bool {
        try supported(feature) == feature
    }

    /// The subset of `features` the kernel accepts.
    public func supported(_ features: BTFFeatures) throws(BTFLoadError) -> BTFFeatures {
        var result: BTFFeatures = []
        for feature in features.elements where try answer(feature) {
            result.insert(feature)
        }
        return result
    }

    /// How often the probe for one feature has run.
    public func runCount(of feature: BTFFeatures) -> Int {
        state.withLock { $0.runs[feature.rawValue] ?? 0 }
    }

    /// The probe runs under the lock, so concurrent callers wait for the one answer instead of
    /// probing twice.
    private func answer(_ feature: BTFFeatures) throws(BTFLoadError) -> Bool {
        try state.withLock { (state) throws(BTFLoadError) -> Bool in
            if let known = state.answers[feature.rawValue] { return known }
            state.runs[feature.rawValue, default: 0] += 1
            let supported = try probe(feature)
            state.answers[feature.rawValue] = supported
            return supported
        }
    }

    /// Loads the probe blob of one feature (`probeBlob(for:)`) into the running kernel: true when
    /// the kernel accepts it, false when it answers `EINVAL`.
    public static func loadProbeBlob(_ feature: BTFFeatures) throws(BTFLoadError) -> Bool {
        let blob: [UInt8]
        do {
            blob = try probeBlob(for: feature)
        } catch {
            throw .marshalling(error)
        }
        do {
            var descriptor = try Sys.loadBTF(blob)
            try? descriptor.close()
            return true
        } catch where error.errno == .invalidArgument {
            return false
        } catch {
            throw .probeFailed(feature: feature, error)
        }
    }

    /// A tiny valid blob that uses `feature` (a single feature) and nothing newer than it.
    public static func probeBlob(for feature: BTFFeatures) throws(BTFMarshalError) -> [UInt8] {
        var builder = BTFBuilder(deduplicatingTypes: false)
        let int = BTFType.int(BTFInt(name: "int", size: 4, encoding: .signed, bits: 32))
        switch feature {
        case .functions, .globalFunctions:
            let intID = try builder.add(int)
            let prototype = try builder.add(
                .functionPrototype(BTFFunctionPrototype(returnType: intID, parameters: [BTFParameter(name: "a", type: intID)])))
            let linkage: BTFLinkage = feature == .functions ? .static : .global
            try builder.add(.function(BTFFunction(name: "probe", prototype: prototype, linkage: linkage)))
        case .dataSections:
            let intID = try builder.add(int)
            let variable = try builder.add(.variable(BTFVariable(name: "a", type: intID, linkage: .global)))
            try builder.add(
                .dataSection(
                    BTFDataSection(
                        name: ".data", size: 4, variables: [BTFVariableSectionInfo(type: variable, offset: 0, size: 4)])))
        case .floats:
            try builder.add(.float(BTFFloat(name: "float", size: 4)))
        case .declarationTags:
            let intID = try builder.add(int)
            let variable = try builder.add(.variable(BTFVariable(name: "a", type: intID, linkage: .static)))
            try builder.add(.declarationTag(BTFDeclarationTag(name: "tag", type: variable, componentIndex: -1)))
        case .typeTags:
            let intID = try builder.add(int)
            let tag = try builder.add(.typeTag(BTFTypeTag(name: "tag", type: intID)))
            try builder.add(.pointer(BTFPointer(target: tag)))
        case .enum64:
            try builder.add(
                .enum64(BTFEnum(name: "e", size: 8, isSigned: false, values: [BTFEnumValue(name: "v", value: 1 << 40)])))
        default:
            // Sets and unknown bits have no blob of their own; an int alone is accepted everywhere.
            try builder.add(int)
        }
        return try builder.bytes(byteOrder: .host)
    }
}
