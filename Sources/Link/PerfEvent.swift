import CEBPF
import EBPFSys
import Glibc

/// The kernel's `struct perf_event_attr` (`PERF_ATTR_SIZE_VER8`, 136 bytes).
///
/// The bit fields after `read_format` live in ``flags`` (see ``PerfEventAttributeFlags``). The
/// unions are stored under one name each: ``config1`` is `kprobe_func`/`uprobe_path`/`bp_addr`,
/// ``config2`` is `probe_offset`/`kprobe_addr`/`bp_len`, ``samplePeriod`` is `sample_freq` when
/// ``PerfEventAttributeFlags/frequency`` is set.
public struct PerfEventAttr: BitwiseCopyable, Sendable {
    public var type: UInt32 = 0
    public var size: UInt32 = UInt32(MemoryLayout<PerfEventAttr>.size)
    public var config: UInt64 = 0
    public var samplePeriod: UInt64 = 0
    public var sampleType: UInt64 = 0
    public var readFormat: UInt64 = 0
    public var flags: PerfEventAttributeFlags = []
    public var wakeupEvents: UInt32 = 0
    public var breakpointType: UInt32 = 0
    public var config1: UInt64 = 0
    public var config2: UInt64 = 0
    public var branchSampleType: UInt64 = 0
    public var sampleRegistersUser: UInt64 = 0
    public var sampleStackUser: UInt32 = 0
    public var clockID: Int32 = 0
    public var sampleRegistersInterrupt: UInt64 = 0
    public var auxWatermark: UInt32 = 0
    public var sampleMaxStack: UInt16 = 0
    public var reserved2: UInt16 = 0
    public var auxSampleSize: UInt32 = 0
    public var auxAction: UInt32 = 0
    public var signalData: UInt64 = 0
    public var config3: UInt64 = 0

    public init() {}
}

/// The bit fields of `perf_event_attr` after `read_format`.
public struct PerfEventAttributeFlags: OptionSet, Sendable, BitwiseCopyable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `disabled`: the event starts off; `PERF_EVENT_IOC_ENABLE` turns it on.
    public static let disabled = PerfEventAttributeFlags(rawValue: 1 << 0)
    /// `inherit`: children inherit the event.
    public static let inherit = PerfEventAttributeFlags(rawValue: 1 << 1)
    /// `exclude_user`.
    public static let excludeUser = PerfEventAttributeFlags(rawValue: 1 << 4)
    /// `exclude_kernel`.
    public static let excludeKernel = PerfEventAttributeFlags(rawValue: 1 << 5)
    /// `freq`: ``PerfEventAttr/samplePeriod`` is a frequency in Hz.
    public static let frequency = PerfEventAttributeFlags(rawValue: 1 << 10)
}

/// The kernel's `enum perf_type_id`: which PMU an event belongs to. Dynamic PMUs (`kprobe`,
/// `uprobe`) have numbers read from sysfs.
public struct PerfEventType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `PERF_TYPE_HARDWARE`.
    public static let hardware = PerfEventType(rawValue: 0)
    /// `PERF_TYPE_SOFTWARE`.
    public static let software = PerfEventType(rawValue: 1)
    /// `PERF_TYPE_TRACEPOINT`: `config` is a tracefs event id.
    public static let tracepoint = PerfEventType(rawValue: 2)
}

/// Software event numbers (`enum perf_sw_ids`).
public struct SoftwareEvent: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `PERF_COUNT_SW_CPU_CLOCK`.
    public static let cpuClock = SoftwareEvent(rawValue: 0)
    /// `PERF_COUNT_SW_TASK_CLOCK`.
    public static let taskClock = SoftwareEvent(rawValue: 1)
    /// `PERF_COUNT_SW_PAGE_FAULTS`.
    public static let pageFaults = SoftwareEvent(rawValue: 2)
    /// `PERF_COUNT_SW_CONTEXT_SWITCHES`.
    public static let contextSwitches = SoftwareEvent(rawValue: 3)
    /// `PERF_COUNT_SW_CPU_MIGRATIONS`.
    public static let cpuMigrations = SoftwareEvent(rawValue: 4)
    /// `PERF_COUNT_SW_PAGE_FAULTS_MIN`.
    public static let minorPageFaults = SoftwareEvent(rawValue: 5)
    /// `PERF_COUNT_SW_PAGE_FAULTS_MAJ`.
    public static let majorPageFaults = SoftwareEvent(rawValue: 6)
    /// `PERF_COUNT_SW_ALIGNMENT_FAULTS`.
    public static let alignmentFaults = SoftwareEvent(rawValue: 7)
    /// `PERF_COUNT_SW_EMULATION_FAULTS`.
    public static let emulationFaults = SoftwareEvent(rawValue: 8)
    /// `PERF_COUNT_SW_DUMMY`.
    public static let dummy = SoftwareEvent(rawValue: 9)
    /// `PERF_COUNT_SW_BPF_OUTPUT`.
    public static let bpfOutput = SoftwareEvent(rawValue: 10)
    /// `PERF_COUNT_SW_CGROUP_SWITCHES` (Linux 5.13).
    public static let cgroupSwitches = SoftwareEvent(rawValue: 11)
}

/// Generalized hardware event numbers (`enum perf_hw_id`), counted by the CPU's PMU. Virtual
/// machines often expose none; ``PerfEventSampler`` then says so and suggests a software event.
public struct HardwareEvent: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `PERF_COUNT_HW_CPU_CYCLES`.
    public static let cpuCycles = HardwareEvent(rawValue: 0)
    /// `PERF_COUNT_HW_INSTRUCTIONS`: retired instructions.
    public static let instructions = HardwareEvent(rawValue: 1)
    /// `PERF_COUNT_HW_CACHE_REFERENCES`: usually last-level cache accesses.
    public static let cacheReferences = HardwareEvent(rawValue: 2)
    /// `PERF_COUNT_HW_CACHE_MISSES`: usually last-level cache misses.
    public static let cacheMisses = HardwareEvent(rawValue: 3)
    /// `PERF_COUNT_HW_BRANCH_INSTRUCTIONS`.
    public static let branchInstructions = HardwareEvent(rawValue: 4)
    /// `PERF_COUNT_HW_BRANCH_MISSES`.
    public static let branchMisses = HardwareEvent(rawValue: 5)
    /// `PERF_COUNT_HW_BUS_CYCLES`.
    public static let busCycles = HardwareEvent(rawValue: 6)
    /// `PERF_COUNT_HW_STALLED_CYCLES_FRONTEND`.
    public static let stalledCyclesFrontend = HardwareEvent(rawValue: 7)
    /// `PERF_COUNT_HW_STALLED_CYCLES_BACKEND`.
    public static let stalledCyclesBackend = HardwareEvent(rawValue: 8)
    /// `PERF_COUNT_HW_REF_CPU_CYCLES`: cycles not scaled by frequency changes.
    public static let referenceCPUCycles = HardwareEvent(rawValue: 9)
}

/// `perf_event_open(2)` and the ioctls the library uses on perf events.
public enum PerfEvent {
    /// `PERF_FLAG_FD_CLOEXEC`.
    static let closeOnExec: UInt = 8
    /// `PERF_EVENT_IOC_ENABLE`: `_IO('$', 0)`.
    static let enableRequest: UInt = 0x2400
    /// `PERF_EVENT_IOC_DISABLE`: `_IO('$', 1)`.
    static let disableRequest: UInt = 0x2401
    /// `PERF_EVENT_IOC_SET_BPF`: `_IOW('$', 8, __u32)`.
    static let setBPFRequest: UInt = 0x4004_2408

    /// Opens a perf event, close-on-exec. `pid` -1 means every process (then `cpu` must be a CPU);
    /// `cpu` -1 means any CPU (then `pid` must be a process).
    public static func open(
        _ attributes: PerfEventAttr, pid: Int32, cpu: Int32, groupFD: Int32 = -1
    ) throws(Errno) -> FileDescriptor {
        var attributes = attributes
        let result = withUnsafeMutableBytes(of: &attributes) {
            SystemCalls.perfEventOpen($0.baseAddress, pid: pid, cpu: cpu, groupFD: groupFD, flags: closeOnExec)
        }
        return try FileDescriptor(adopting: result.get())
    }

    /// `PERF_EVENT_IOC_SET_BPF`: the program runs on every hit of the event. Kept until the
    /// event's descriptor closes.
    public static func setBPF(event: borrowing FileDescriptor, program: borrowing FileDescriptor) throws(Errno) {
        try ioctl(event.rawValue, setBPFRequest, UInt(bitPattern: Int(program.rawValue)))
    }

    /// `PERF_EVENT_IOC_ENABLE`.
    public static func enable(_ event: borrowing FileDescriptor) throws(Errno) {
        try ioctl(event.rawValue, enableRequest, 0)
    }

    /// `PERF_EVENT_IOC_DISABLE`.
    public static func disable(_ event: borrowing FileDescriptor) throws(Errno) {
        try ioctl(event.rawValue, disableRequest, 0)
    }

    static func ioctl(_ event: Int32, _ request: UInt, _ value: UInt) throws(Errno) {
        _ = try SystemCalls.ioctl(event, request: request, value: value).get()
    }
}

/// A NUL-terminated copy of a string at a stable address, for attribute fields that hold a
/// pointer (`kprobe_func`, `uprobe_path`); freed when the value goes away, so keep it alive
/// across the system call.
struct CStringCopy: ~Copyable {
    private let storage: UnsafeMutableRawBufferPointer

    init(_ text: String) {
        let bytes = Array(text.utf8) + [0]
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyBytes(from: bytes)
    }

    /// The address as the kernel's attribute structs store it.
    var address: UInt64 { Sys.address(of: storage.baseAddress) }

    deinit { storage.deallocate() }
}
