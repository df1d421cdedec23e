// execinfo: a CO-RE example. bpf/execinfo.bpf.c reads task_struct fields (pid, parent, uid,
// command) through BPF_CORE_READ on every exec; this program prints what it recorded, once a
// second, until Ctrl-C. The struct it reads the map with, ExecinfoTypes.exec_event, is generated
// from the object's BTF with C's layout.
import EBPF
import Glibc

nonisolated(unsafe) var interrupted: sig_atomic_t = 0

func writeLine(_ text: String, to descriptor: Int32) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}

/// A C `char[16]` as a string, up to its first NUL.
func string<T>(fromCharacters tuple: T) -> String {
    withUnsafeBytes(of: tuple) { bytes in String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

func main() throws {
    let tracefs = try Tracefs.findOrMount()
    if tracefs.mountedNow { writeLine("tracefs was not mounted; mounted it at \(tracefs.path)", to: STDERR_FILENO) }
    let objects = try loadExecinfoObjects()
    defer { try? objects.close() }
    let link = try Tracepoint(group: "sched", name: "sched_process_exec", program: objects.recordExec)
    defer { try? link.close() }

    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    signal(SIGINT) { _ in interrupted = 1 }
    signal(SIGTERM) { _ in interrupted = 1 }
    writeLine("recording execs with CO-RE reads of task_struct; Ctrl-C to stop", to: STDERR_FILENO)

    while interrupted == 0 {
        var pause = timespec(tv_sec: 1, tv_nsec: 0)
        var remaining = timespec()
        _ = nanosleep(&pause, &remaining)
        let entries = try objects.execs.entries(UInt32.self, ExecinfoTypes.exec_event.self)
        for (pid, event) in entries.sorted(by: { $0.value.start_time < $1.value.start_time }) {
            writeLine(
                "pid \(event.pid) (\(string(fromCharacters: event.comm))) uid \(event.uid), parent \(event.parent_pid) (\(string(fromCharacters: event.parent_comm)))",
                to: STDOUT_FILENO)
            _ = try objects.execs.delete(pid)
        }
    }
}

do {
    try main()
} catch {
    writeLine("execinfo: \(error)", to: STDERR_FILENO)
    exit(1)
}
