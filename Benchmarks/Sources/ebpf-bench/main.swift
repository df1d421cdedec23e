import CLibBPF
import EBPF
import Glibc

// ebpf-bench: runs each scenario for swift-ebpf and for libbpf in the same process on the same data,
// interleaved, and prints `<scenario> swift_ms=<median> libbpf_ms=<median> ratio=<swift/libbpf>`.
//
//     swift run -c release --package-path Benchmarks ebpf-bench btf [--iterations N]
//     swift run -c release --package-path Benchmarks ebpf-bench elf [--iterations N] [--object PATH]
//     swift run -c release --package-path Benchmarks ebpf-bench ringbuf [--iterations N]
//     swift run -c release --package-path Benchmarks ebpf-bench perf [--iterations N]
//     swift run -c release --package-path Benchmarks ebpf-bench maps [--iterations N]
//     swift run -c release --package-path Benchmarks ebpf-bench collection-load [--iterations N] [--object PATH]
//     swift run -c release --package-path Benchmarks ebpf-bench btf-dump [--iterations N] [--ebpf PATH]

let vmlinuxPath = "/sys/kernel/btf/vmlinux"

func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func format(_ value: Double, digits: Int = 3) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return String(rounded)
}

func fail(_ message: String) -> Never {
    let text = "ebpf-bench: \(message)\n"
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(1)
}

// MARK: - The two sides of each BTF scenario

/// Reads and indexes vmlinux BTF, visits each type's kind and vlen, finds `task_struct`.
/// Returns a checksum so the work cannot be optimised away.
func swiftParse() -> Int {
    do {
        let spec = try BTFSpec(path: vmlinuxPath)
        var checksum = 0
        var id = BTFTypeID(1)
        while id.rawValue < spec.typeCount {
            let header = try spec.kindAndVlen(of: id)
            checksum &+= Int(header.kind.rawValue) &+ header.vlen
            id.rawValue += 1
        }
        guard let task = spec.typeID(named: "task_struct", kind: .struct) else { fail("swift: no task_struct") }
        return checksum &+ Int(task.rawValue)
    } catch {
        fail("swift: \(error)")
    }
}

/// Reads vmlinux BTF and decodes every type into the full graph, then finds `task_struct`.
func swiftInflate() -> Int {
    do {
        let spec = try BTFSpec(path: vmlinuxPath)
        let graph = try spec.typeGraph()
        guard let task = spec.typeID(named: "task_struct", kind: .struct) else { fail("swift: no task_struct") }
        return graph.types.count &+ Int(task.rawValue)
    } catch {
        fail("swift: \(error)")
    }
}

/// libbpf's `btf__parse` and the same walk as `swiftParse`.
func libbpfParse() -> Int {
    guard let btf = btf__parse(vmlinuxPath, nil) else { fail("libbpf: btf__parse failed, errno \(errno)") }
    defer { btf__free(btf) }
    var checksum = 0
    let count = btf__type_cnt(btf)
    var id: UInt32 = 1
    while id < count {
        guard let type = btf__type_by_id(btf, id) else { fail("libbpf: no type \(id)") }
        checksum &+= Int(btf_kind(type)) &+ Int(btf_vlen(type))
        id += 1
    }
    let task = btf__find_by_name_kind(btf, "task_struct", UInt32(BTF_KIND_STRUCT))
    guard task > 0 else { fail("libbpf: no task_struct") }
    return checksum &+ Int(task)
}

/// Runs `sides` interleaved `iterations` times and returns each side's median in milliseconds.
func measure(iterations: Int, _ sides: [() -> Int]) -> [Double] {
    var samples = [[Double]](repeating: [], count: sides.count)
    var sink = 0
    for _ in 0..<iterations {
        for (index, side) in sides.enumerated() {
            let start = now()
            sink &+= side()
            samples[index].append(Double(now() - start) / 1_000_000)
        }
    }
    if sink == 42 { print("") }
    return samples.map(median)
}

func report(_ scenario: String, swift: Double, libbpf: Double) {
    print("\(scenario) swift_ms=\(format(swift)) libbpf_ms=\(format(libbpf)) ratio=\(format(swift / libbpf))")
}

// MARK: - Peak memory, each side in a fresh process

/// The process's peak resident set (`VmHWM`) in kB.
func peakResidentKilobytes() -> Int {
    guard let file = fopen("/proc/self/status", "re") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmHWM:") {
            return Int(text.dropFirst(6).filter { $0.isNumber }) ?? -1
        }
    }
    return -1
}

/// Runs this executable again with `--rss-child SIDE` and returns the peak RSS it reports, in kB.
func childPeakResident(side: String) -> Int {
    var path = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &path, path.count - 1)
    guard length > 0 else { fail("cannot find own executable") }
    let executable = String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let pipe = popen("'\(executable)' --rss-child \(side)", "r") else { fail("popen failed") }
    var output = [CChar](repeating: 0, count: 256)
    var result = -1
    if fgets(&output, Int32(output.count), pipe) != nil {
        let text = String(decoding: output.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        result = Int(text) ?? -1
    }
    pclose(pipe)
    return result
}

func rssChild(side: String) -> Never {
    switch side {
    case "swift":
        do {
            let spec = try BTFSpec(path: vmlinuxPath)
            guard spec.typeID(named: "task_struct", kind: .struct) != nil else { fail("no task_struct") }
            print(peakResidentKilobytes())
            withExtendedLifetime(spec) {}
        } catch {
            fail("swift: \(error)")
        }
    case "libbpf":
        guard let btf = btf__parse(vmlinuxPath, nil) else { fail("libbpf: btf__parse failed") }
        guard btf__find_by_name_kind(btf, "task_struct", UInt32(BTF_KIND_STRUCT)) > 0 else {
            fail("libbpf: no task_struct")
        }
        print(peakResidentKilobytes())
        btf__free(btf)
    case "baseline":
        print(peakResidentKilobytes())
    default:
        fail("unknown side \(side)")
    }
    exit(0)
}

// MARK: - Scenarios

func runBTF(iterations: Int) {
    // Warm the page cache, the allocator and the code of both sides before timing.
    _ = measure(iterations: 2, [swiftParse, libbpfParse, swiftInflate])

    let parse = measure(iterations: iterations, [swiftParse, libbpfParse])
    report("btf-parse-vmlinux", swift: parse[0], libbpf: parse[1])

    let inflate = measure(iterations: max(iterations / 2, 5), [swiftInflate, libbpfParse])
    report("btf-inflate-vmlinux", swift: inflate[0], libbpf: inflate[1])

    var swiftPeaks: [Double] = []
    var libbpfPeaks: [Double] = []
    var baselines: [Double] = []
    for _ in 0..<5 {
        swiftPeaks.append(Double(childPeakResident(side: "swift")) / 1024)
        libbpfPeaks.append(Double(childPeakResident(side: "libbpf")) / 1024)
        baselines.append(Double(childPeakResident(side: "baseline")) / 1024)
    }
    print(
        "btf-rss-vmlinux swift_mb=\(format(median(swiftPeaks), digits: 1)) libbpf_mb=\(format(median(libbpfPeaks), digits: 1)) process_baseline_mb=\(format(median(baselines), digits: 1))"
    )
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--rss-child", arguments.count == 2 { rssChild(side: arguments[1]) }
if arguments.first == "--dump-child" { dumpChild() }

var iterations = 41
if let flag = arguments.firstIndex(of: "--iterations"), flag + 1 < arguments.count, let value = Int(arguments[flag + 1]) {
    iterations = max(value, 1)
    arguments.removeSubrange(flag...(flag + 1))
}
var objectPath: String?
if let flag = arguments.firstIndex(of: "--object"), flag + 1 < arguments.count {
    objectPath = arguments[flag + 1]
    arguments.removeSubrange(flag...(flag + 1))
}
var ebpfPath: String?
if let flag = arguments.firstIndex(of: "--ebpf"), flag + 1 < arguments.count {
    ebpfPath = arguments[flag + 1]
    arguments.removeSubrange(flag...(flag + 1))
}
switch arguments.first {
case "btf", nil:
    runBTF(iterations: iterations)
case "elf":
    runELF(iterations: iterations, objectPath: objectPath)
case "ringbuf":
    runRingbuf(iterations: min(iterations, 15))
case "perf":
    runPerf(iterations: min(iterations, 15))
case "maps":
    runMaps(iterations: min(iterations, 21))
case "collection-load":
    runCollectionLoad(iterations: iterations, objectPath: objectPath)
case "btf-dump":
    runBTFDump(iterations: min(iterations, 11), ebpfPath: ebpfPath)
default:
    fail("unknown scenario group \(arguments[0]); known: btf, elf, ringbuf, perf, maps, collection-load, btf-dump")
}
