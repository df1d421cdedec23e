import EBPFCollection
import EBPFSys
import Synchronization

/// A kind of BPF link the running kernel may or may not support, for ``Features/check(_:)``.
public enum LinkFeature: String, Sendable, CaseIterable, CustomStringConvertible {
    /// kprobe.multi links (`BPF_TRACE_KPROBE_MULTI`, Linux 5.18 with `CONFIG_FPROBE`).
    case kprobeMulti = "kprobe.multi link"
    /// kprobe.session links (`BPF_TRACE_KPROBE_SESSION`, Linux 6.10 with `CONFIG_FPROBE`).
    case kprobeSession = "kprobe.session link"
    /// uprobe.multi links (`BPF_TRACE_UPROBE_MULTI`, Linux 6.6 with `CONFIG_UPROBES`).
    case uprobeMulti = "uprobe.multi link"
    /// tcx links (`BPF_TCX_INGRESS`, Linux 6.6 with `CONFIG_NET_XGRESS`).
    case tcx = "tcx link"
    /// netkit links (`BPF_NETKIT_PRIMARY`, Linux 6.7 with `CONFIG_NETKIT`).
    case netkit = "netkit link"
    /// Links for perf events: kprobes, uprobes and tracepoints through `BPF_LINK_CREATE`
    /// (`BPF_PERF_EVENT`, Linux 5.15).
    case perfEvent = "perf event link"

    public var description: String { rawValue }

    /// The first mainline Linux version with the link, and the configuration it needs.
    public var requirement: String {
        switch self {
        case .kprobeMulti: "5.18, CONFIG_FPROBE"
        case .kprobeSession: "6.10, CONFIG_FPROBE"
        case .uprobeMulti: "6.6, CONFIG_UPROBES"
        case .tcx: "6.6, CONFIG_NET_XGRESS"
        case .netkit: "6.7, CONFIG_NETKIT"
        case .perfEvent: "5.15"
        }
    }
}

extension Features {
    /// Answers that are final for this kernel: probes that failed for another reason (EPERM
    /// without privileges, ENOMEM) are not kept and run again next time.
    private static let linkAnswers = Mutex<[LinkFeature: Bool]>([:])

    /// Throws ``FeatureProbeError/unsupported(_:)`` when the kernel lacks `feature`, and
    /// ``FeatureProbeError/probeFailed(feature:_:)`` when the probe could not tell (for instance
    /// `EPERM` without `CAP_BPF`). Definitive answers are memoised for the process.
    ///
    /// Each probe creates a link that must fail where the feature exists, for a reason the
    /// kernel only reaches once it knows the link kind: an invalid target (EBADF, ENODEV) or a
    /// symbol no kernel has (ENOENT, ESRCH). EINVAL, E2BIG and EOPNOTSUPP/ENOTSUPP mean the kernel
    /// does not know it.
    ///
    /// ```swift
    /// if try Features.isSupported(.kprobeMulti) { ... }
    /// ```
    public static func check(_ feature: LinkFeature) throws(FeatureProbeError) {
        if let known = linkAnswers.withLock({ $0[feature] }) {
            if known { return }
            throw .unsupported(UnsupportedFeatureError(feature: feature.description, minimumKernelVersion: feature.requirement))
        }
        let supported = try probe(feature)
        linkAnswers.withLock { $0[feature] = supported }
        if !supported {
            throw .unsupported(UnsupportedFeatureError(feature: feature.description, minimumKernelVersion: feature.requirement))
        }
    }

    /// Whether the kernel supports `feature`; throws only when the probe could not tell.
    public static func isSupported(_ feature: LinkFeature) throws(FeatureProbeError) -> Bool {
        do {
            try check(feature)
            return true
        } catch {
            if case .unsupported = error { return false }
            throw error
        }
    }

    /// Forgets the memoised answers (tests).
    static func forgetLinkAnswers() {
        linkAnswers.withLock { $0.removeAll() }
    }

    /// Runs the probe for `feature`: true or false when the kernel's answer is definitive.
    static func probe(_ feature: LinkFeature) throws(FeatureProbeError) -> Bool {
        let programType: ProgramType
        let attachType: AttachType
        switch feature {
        case .kprobeMulti: (programType, attachType) = (.kprobe, .traceKprobeMulti)
        case .kprobeSession: (programType, attachType) = (.kprobe, .traceKprobeSession)
        case .uprobeMulti: (programType, attachType) = (.kprobe, .traceUprobeMulti)
        case .tcx: (programType, attachType) = (.schedCls, .tcxIngress)
        case .netkit: (programType, attachType) = (.schedCls, .netkitPrimary)
        case .perfEvent: (programType, attachType) = (.kprobe, .perfEvent)
        }
        let program: FileDescriptor
        do {
            program = try loadTrivialProgram(
                type: programType, expectedAttachType: feature == .perfEvent ? nil : attachType)
        } catch {
            // A kernel that predates the attach type refuses it as the expected one (EINVAL).
            if error.errno == .invalidArgument || error.errno == .argumentListTooLong { return false }
            throw .probeFailed(feature: feature.description, error)
        }
        let result = createProbeLink(feature, program: program.rawValue, attachType: attachType)
        switch result {
        case .success:
            // Nothing the probe asks for should attach; a link that did is closed and counts.
            return true
        case .failure(let error):
            switch error.errno {
            case .badFileDescriptor, .noSuchDevice, .noSuchFileOrDirectory, .noSuchProcess:
                return true
            case .invalidArgument, .argumentListTooLong, .notSupported, .kernelNotSupported:
                return false
            default:
                throw .probeFailed(feature: feature.description, error)
            }
        }
    }

    /// `BPF_LINK_CREATE` for `feature` with a target that cannot exist.
    private static func createProbeLink(
        _ feature: LinkFeature, program: Int32, attachType: AttachType
    ) -> Result<Void, BPFSyscallError> {
        func create<Attributes: LinkCreateAttributes>(_ attributes: Attributes) -> Result<Void, BPFSyscallError> {
            Result { () throws(BPFSyscallError) in
                var link = try Sys.linkCreate(attributes)
                try? link.close()
            }
        }
        switch feature {
        case .kprobeMulti, .kprobeSession:
            // A name no kernel function has: ENOENT (or ESRCH) once the kernel resolves it.
            let symbol = CStringPointer("swift_ebpf_feature_probe_no_such_function")
            var names = [symbol.address]
            var attributes = LinkCreateKprobeMultiAttr()
            attributes.progFD = UInt32(bitPattern: program)
            attributes.attachType = attachType.rawValue
            attributes.count = 1
            let result = names.withUnsafeMutableBytes { bytes in
                attributes.syms = Sys.address(of: bytes.baseAddress)
                return create(attributes)
            }
            withExtendedLifetime(symbol) {}
            return result
        case .uprobeMulti:
            // The root directory is no file to probe: EBADF once the kernel opens the path.
            let path = CStringPointer("/")
            var offsets: [UInt64] = [0]
            var attributes = LinkCreateUprobeMultiAttr()
            attributes.progFD = UInt32(bitPattern: program)
            attributes.attachType = attachType.rawValue
            attributes.count = 1
            attributes.path = path.address
            let result = offsets.withUnsafeMutableBytes { bytes in
                attributes.offsets = Sys.address(of: bytes.baseAddress)
                return create(attributes)
            }
            withExtendedLifetime(path) {}
            return result
        case .tcx, .netkit:
            // Interface index 0 never exists: ENODEV once the kernel looks the device up.
            var attributes = LinkCreateTCXAttr()
            attributes.progFD = UInt32(bitPattern: program)
            attributes.targetFD = 0
            attributes.attachType = attachType.rawValue
            return create(attributes)
        case .perfEvent:
            // An invalid perf event descriptor: EBADF once the kernel looks it up.
            var attributes = LinkCreatePerfEventAttr()
            attributes.progFD = UInt32(bitPattern: program)
            attributes.targetFD = UInt32(bitPattern: -1)
            attributes.attachType = attachType.rawValue
            return create(attributes)
        }
    }
}
