import CEBPF
import EBPFSys
import Glibc

/// The kernel's `struct perf_event_attr` as far as `PERF_ATTR_SIZE_VER7` (128 bytes), which every
/// kernel since 5.4 accepts; later fields stay zero.
struct PerfEventAttributes: BitwiseCopyable {
    var type: UInt32 = 0
    var size: UInt32 = UInt32(MemoryLayout<PerfEventAttributes>.size)
    var config: UInt64 = 0
    var samplePeriod: UInt64 = 0
    var sampleType: UInt64 = 0
    var readFormat: UInt64 = 0
    /// The bit fields (`disabled`, `inherit`, ..., `watermark`, ..., `write_backward`, ...).
    var flags: UInt64 = 0
    /// `wakeup_events`, or `wakeup_watermark` with the watermark flag.
    var wakeup: UInt32 = 0
    var breakpointType: UInt32 = 0
    var config1: UInt64 = 0
    var config2: UInt64 = 0
    var branchSampleType: UInt64 = 0
    var sampleRegistersUser: UInt64 = 0
    var sampleStackUser: UInt32 = 0
    var clockID: Int32 = 0
    var sampleRegistersInterrupt: UInt64 = 0
    var auxWatermark: UInt32 = 0
    var sampleMaximumStack: UInt16 = 0
    var reserved2: UInt16 = 0
    var auxSampleSize: UInt32 = 0
    var reserved3: UInt32 = 0
    var signalData: UInt64 = 0

    /// `PERF_TYPE_SOFTWARE`.
    static let typeSoftware: UInt32 = 1
    /// `PERF_COUNT_SW_BPF_OUTPUT`: the software event `bpf_perf_event_output` writes to.
    static let configBPFOutput: UInt64 = 10
    /// `PERF_SAMPLE_RAW`: samples carry the raw bytes the program gave.
    static let sampleRaw: UInt64 = 1 << 10
    /// The `watermark` bit: wake up by bytes (`wakeup_watermark`) instead of by events.
    static let flagWatermark: UInt64 = 1 << 14
    /// The `write_backward` bit: the kernel writes the ring backwards and overwrites old records.
    static let flagWriteBackward: UInt64 = 1 << 27
}

/// Offsets into `struct perf_event_mmap_page`, the ring's first page.
@usableFromInline
enum PerfMetadataPage {
    /// `data_head`: where the kernel writes next.
    @inlinable static var dataHead: Int { 1024 }
    /// `data_tail`: how far user space has read (forward rings only).
    @inlinable static var dataTail: Int { 1032 }
}

/// Record types in a perf ring (`enum perf_event_type`).
@usableFromInline
enum PerfRecordType {
    /// `PERF_RECORD_LOST`: `u64 id; u64 lost`.
    @inlinable static var lost: UInt32 { 2 }
    /// `PERF_RECORD_SAMPLE`: with `PERF_SAMPLE_RAW`, `u32 size; u8 data[size]`.
    @inlinable static var sample: UInt32 { 9 }
}

/// perf event ioctls (`_IO('$', n)` and `_IOW('$', 9, __u32)`).
enum PerfIOCTL {
    /// `PERF_EVENT_IOC_ENABLE`.
    static let enable: UInt = 0x2400
    /// `PERF_EVENT_IOC_DISABLE`.
    static let disable: UInt = 0x2401
    /// `PERF_EVENT_IOC_PAUSE_OUTPUT`: 1 stops writes into the ring, 0 resumes them.
    static let pauseOutput: UInt = 0x4004_2409
}

/// `PERF_FLAG_FD_CLOEXEC`.
let perfFlagCloseOnExec: UInt = 8

/// Opens the BPF output event on `cpu` for all processes; the raw descriptor, or the errno.
func openBPFOutputEvent(cpu: Int, wakeup: PerfWakeup, overwritable: Bool) -> Result<Int32, Errno> {
    var attributes = PerfEventAttributes()
    attributes.type = PerfEventAttributes.typeSoftware
    attributes.config = PerfEventAttributes.configBPFOutput
    attributes.samplePeriod = 1
    attributes.sampleType = PerfEventAttributes.sampleRaw
    switch wakeup {
    case .events(let count):
        attributes.wakeup = UInt32(clamping: max(count, 1))
    case .bytes(let count):
        attributes.flags |= PerfEventAttributes.flagWatermark
        attributes.wakeup = UInt32(clamping: max(count, 1))
    }
    if overwritable {
        attributes.flags |= PerfEventAttributes.flagWriteBackward
    }
    return withUnsafeMutableBytes(of: &attributes) { bytes in
        SystemCalls.perfEventOpen(bytes.baseAddress, pid: -1, cpu: Int32(cpu), groupFD: -1, flags: perfFlagCloseOnExec)
    }
}
