import Glibc
import Synchronization

/// Which dynamic probe a PMU or tracefs event is for.
public enum ProbeKind: String, Sendable, Hashable {
    /// Kernel function probes: the `kprobe` PMU, tracefs `kprobe_events`.
    case kprobe
    /// User-space probes: the `uprobe` PMU, tracefs `uprobe_events`.
    case uprobe

    /// The tracefs file that defines events of this kind.
    var eventsFile: String { "\(rawValue)_events" }
}

/// A dynamic perf PMU (`/sys/bus/event_source/devices/<name>`) as the kernel describes it.
struct ProbePMU: Sendable, Hashable {
    /// The PMU's number for `perf_event_attr.type`.
    var type: UInt32
    /// The `config` bit that turns a probe into a return probe (from `format/retprobe`).
    var retprobeBit: UInt64?
    /// The shift of `ref_ctr_offset` in `config` (from `format/ref_ctr_offset`), uprobes only.
    var referenceCounterShift: UInt64?
    /// The sysfs directory the PMU was read from, for errors.
    var directory: String

    static let devicesDirectory = "/sys/bus/event_source/devices"

    private static let cache = Mutex<[ProbeKind: ProbePMU?]>([:])

    /// The PMU for `kind`, nil when the kernel has none (memoised: PMUs of built-in features do
    /// not come and go).
    static func find(_ kind: ProbeKind) -> ProbePMU? {
        if let known = cache.withLock({ $0[kind] }) { return known }
        let found = read(directory: "\(devicesDirectory)/\(kind.rawValue)")
        cache.withLock { $0[kind] = found }
        return found
    }

    /// Reads a PMU's `type` and `format/` files; nil when `type` is missing or unreadable.
    static func read(directory: String) -> ProbePMU? {
        guard let typeText = Tracefs.readText(directory + "/type"),
            let type = UInt32(typeText.trimmingCharacters())
        else { return nil }
        let retprobe = Tracefs.readText(directory + "/format/retprobe").flatMap(firstConfigBit(ofFormat:))
        let referenceCounter = Tracefs.readText(directory + "/format/ref_ctr_offset").flatMap(firstConfigBit(ofFormat:))
        return ProbePMU(type: type, retprobeBit: retprobe, referenceCounterShift: referenceCounter, directory: directory)
    }

    /// The `config` bits that make the event an entry probe or, with `isReturnProbe`, a return
    /// probe. Both PMUs have described `format/retprobe` since they appeared (Linux 4.17, commits
    /// e12f03d7031a and 33ea4b24277b); without it (an unreadable or restricted sysfs) a return
    /// probe would silently open as an entry probe, so it is an error instead.
    func config(isReturnProbe: Bool, hook: String) throws(LinkError) -> UInt64 {
        guard isReturnProbe else { return 0 }
        guard let retprobeBit else {
            throw .notSupported(
                feature: "return probe through the PMU (\(hook))", requirement: "Linux 4.17",
                detail: "\(directory)/format/retprobe is missing, unreadable or not a config bit")
        }
        return 1 << retprobeBit
    }

    /// The first bit of a PMU format description such as `config:0` or `config:32-63`; nil for
    /// anything that is not a `config` field.
    static func firstConfigBit(ofFormat text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters()
        guard trimmed.hasPrefix("config:") else { return nil }
        let bits = trimmed.dropFirst("config:".count)
        let first = bits.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
        guard let bit = UInt64(first), bit < 64 else { return nil }
        return bit
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingCharacters() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\n" || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\n" || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
