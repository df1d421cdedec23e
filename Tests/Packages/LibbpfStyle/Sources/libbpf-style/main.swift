// libbpf-style: loads the objects the plugin built from bpf/*.bpf.c and reports what it saw.
// Run as root; prints one `key: value` line per finding for the test that drives it.
import EBPF
import Glibc

func report(_ key: String, _ value: Any) { print("\(key): \(value)") }

do {
    // Typed constants before load.
    var execs = try ExecsSpec()
    try execs.set(minPid: 1)
    report("min_pid", try execs.minPid)
    let objects = try execs.load()
    defer { try? objects.close() }
    let reader = try RingBufferReader(objects.execEvents)
    defer { reader.close() }
    let links = try objects.attachAll()
    defer { try? links.close() }
    report("attached", links.links.map(\.name).joined(separator: ","))

    var child: pid_t = 0
    var arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(arguments[0]) }
    guard posix_spawn(&child, "/bin/true", nil, nil, &arguments, nil) == 0 else { throw Errno(rawValue: errno) }
    var status: Int32 = 0
    waitpid(child, &status, 0)
    for _ in 0..<3 { _ = getppid() }

    var seen = false
    _ = try reader.consume { record in
        guard let event = record.load(as: ExecsTypes.exec_event.self), event.pid == child else { return }
        seen = true
        report("exec", "\(event.commString) pid \(event.pid) parent \(event.ppid == getpid() ? "self" : String(event.ppid))")
    }
    report("exec_seen", seen)
    report("raw_syscalls_at_least_3", try objects.rawSyscalls.get(as: UInt64.self) >= 3)

    // The kprobe and ksyscall programs load (CO-RE and all) wherever BPF does.
    let probes = try loadProbesObjects()
    defer { try? probes.close() }
    report("probes_loaded", ProbesObjects.programNames.joined(separator: ","))
} catch {
    print("error: \(error)")
    exit(1)
}
