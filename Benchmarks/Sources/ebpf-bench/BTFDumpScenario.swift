import CLibBPF
import EBPF
import Glibc

// MARK: - btf-dump-c: vmlinux BTF as a C header (vmlinux.h), against libbpf's btf_dump

let bpftoolPath = "/usr/sbin/bpftool"

/// `/dev/null`, opened once: both sides write the header there.
let devNull: Int32 = {
    let descriptor = open("/dev/null", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { fail("cannot open /dev/null") }
    return descriptor
}()

nonisolated(unsafe) let devNullFile: UnsafeMutablePointer<FILE> = {
    guard let file = fopen("/dev/null", "we") else { fail("cannot open /dev/null") }
    return file
}()

/// Writes all of `bytes` to `descriptor`.
func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { fail("write failed, errno \(errno)") }
        offset += written
    }
}

/// Parses vmlinux BTF and writes it as a C header to `descriptor`, as `ebpf btf dump FILE
/// --format c` does. Returns the number of bytes written.
func swiftDumpC(to descriptor: Int32) -> Int {
    do {
        let spec = try BTFSpec(path: vmlinuxPath)
        var total = 0
        try spec.writeCHeader { chunk in
            total &+= chunk.count
            writeAll(descriptor, chunk)
        }
        return total
    } catch {
        fail("swift: \(error)")
    }
}

/// libbpf's printer callback, as bpftool's: `vfprintf` to the `FILE` in `ctx`.
let libbpfDumpPrintf: btf_dump_printf_fn_t = { context, format, arguments in
    guard let context, let format, let arguments else { return }
    vfprintf(context.assumingMemoryBound(to: FILE.self), format, arguments)
}

/// bpftool's `btf dump file FILE format c`: `btf__parse`, the same guard and attribute block,
/// `btf_dump__dump_type` for every id, written through stdio to `file`.
func libbpfDumpC(to file: UnsafeMutablePointer<FILE>) -> Int {
    guard let btf = btf__parse(vmlinuxPath, nil) else { fail("libbpf: btf__parse failed, errno \(errno)") }
    defer { btf__free(btf) }
    guard let dump = btf_dump__new(btf, libbpfDumpPrintf, file, nil) else { fail("libbpf: btf_dump__new failed") }
    defer { btf_dump__free(dump) }
    fputs("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n", file)
    fputs("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n", file)
    fputs("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n", file)
    fputs("#endif\n\n", file)
    let count = btf__type_cnt(btf)
    var id: UInt32 = 1
    while id < count {
        guard btf_dump__dump_type(dump, id) == 0 else { fail("libbpf: btf_dump__dump_type \(id) failed") }
        id += 1
    }
    fputs("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n", file)
    fputs("#endif /* __VMLINUX_H__ */\n", file)
    fflush(file)
    return Int(count)
}

/// What a finished child process used.
struct ChildUsage {
    var wallMilliseconds: Double
    var cpuMilliseconds: Double
    var peakKilobytes: Int
}

/// Runs `arguments` (the executable first) with stdout on /dev/null and returns its wall time, CPU
/// time and peak RSS (`wait4`'s `ru_maxrss`).
func runChild(_ arguments: [String]) -> ChildUsage {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    cArguments.append(nil)
    defer { for argument in cArguments { free(argument) } }
    var pid: pid_t = 0
    let start = now()
    let result = posix_spawn(&pid, arguments[0], &actions, nil, cArguments, environ)
    guard result == 0 else { fail("cannot start \(arguments[0]): error \(result)") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { fail("wait4 failed, errno \(errno)") }
    }
    let wall = Double(now() - start) / 1_000_000
    guard status == 0 else { fail("\(arguments.joined(separator: " ")) exited with status \(status)") }
    func milliseconds(_ time: timeval) -> Double { Double(time.tv_sec) * 1000 + Double(time.tv_usec) / 1000 }
    return ChildUsage(
        wallMilliseconds: wall, cpuMilliseconds: milliseconds(usage.ru_utime) + milliseconds(usage.ru_stime),
        peakKilobytes: usage.ru_maxrss)
}

/// This executable's path.
func ownExecutable() -> String {
    var path = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &path, path.count - 1)
    guard length > 0 else { fail("cannot find own executable") }
    return String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `ebpf-bench --dump-child`: what `ebpf btf dump vmlinux --format c` does, to stdout.
func dumpChild() -> Never {
    _ = swiftDumpC(to: STDOUT_FILENO)
    exit(0)
}

/// `btf-dump-c-process`: a whole process per run, `ebpf btf dump` (the executable at `ebpfPath`,
/// or this benchmark re-executed to do the same) against `bpftool btf dump ... format c`, each
/// writing to /dev/null: medians of wall time, CPU time (user + system) and peak RSS. Then
/// `btf-dump-c` in this process, both sides writing to /dev/null.
///
/// The processes run first: a child's `ru_maxrss` counts the memory of this process at the moment
/// it execs (Linux keeps the larger of the old and new address space's peak), so this process must
/// still be small then. `launcher_mb` says how small it was.
func runBTFDump(iterations: Int, ebpfPath: String?) {
    if access(bpftoolPath, X_OK) == 0 {
        runBTFDumpProcesses(iterations: iterations, ebpfPath: ebpfPath)
    } else {
        print("# btf-dump-c-process skipped: needs bpftool (Debian package bpftool) at \(bpftoolPath)")
    }
    let swiftSide = { swiftDumpC(to: devNull) }
    let libbpfSide = { libbpfDumpC(to: devNullFile) }
    _ = measure(iterations: 2, [swiftSide, libbpfSide])
    let inProcess = measure(iterations: iterations, [swiftSide, libbpfSide])
    report("btf-dump-c", swift: inProcess[0], libbpf: inProcess[1])
}

func runBTFDumpProcesses(iterations: Int, ebpfPath: String?) {
    let launcher = Double(peakResidentKilobytes()) / 1024
    let swiftCommand =
        ebpfPath.map { [$0, "btf", "dump", vmlinuxPath, "--format", "c"] } ?? [ownExecutable(), "--dump-child"]
    let bpftoolCommand = [bpftoolPath, "btf", "dump", "file", vmlinuxPath, "format", "c"]
    var swiftRuns: [ChildUsage] = []
    var bpftoolRuns: [ChildUsage] = []
    for _ in 0..<max(iterations, 3) {
        swiftRuns.append(runChild(swiftCommand))
        bpftoolRuns.append(runChild(bpftoolCommand))
    }
    func medians(_ runs: [ChildUsage]) -> (wall: Double, cpu: Double, peak: Double) {
        (
            median(runs.map(\.wallMilliseconds)), median(runs.map(\.cpuMilliseconds)),
            median(runs.map { Double($0.peakKilobytes) / 1024 })
        )
    }
    let ours = medians(swiftRuns)
    let theirs = medians(bpftoolRuns)
    print("# btf-dump-c-process swift=\(swiftCommand.joined(separator: " ")) launcher_mb=\(format(launcher, digits: 1))")
    print(
        "btf-dump-c-process swift_ms=\(format(ours.wall)) bpftool_ms=\(format(theirs.wall)) ratio=\(format(ours.wall / theirs.wall))"
            + " swift_cpu_ms=\(format(ours.cpu)) bpftool_cpu_ms=\(format(theirs.cpu)) cpu_ratio=\(format(ours.cpu / theirs.cpu))"
            + " swift_peak_mb=\(format(ours.peak, digits: 1)) bpftool_peak_mb=\(format(theirs.peak, digits: 1))")
}
