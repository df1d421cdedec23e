// execcount: counts execve calls with the classic kprobe program, or with the syscall tracepoint
// where the kernel has no kprobes. The BPF side is bpf/execcount.bpf.c, compiled and turned into
// Swift (loadExeccountObjects, ExeccountObjects) by the BPF2SwiftPlugin during `swift build`.
import EBPF
import Glibc

/// Set by the SIGINT handler; the loop below polls it once a second.
nonisolated(unsafe) var interrupted: sig_atomic_t = 0

/// Writes a line to standard error: what the program is doing, apart from the counts.
func message(_ text: String) { writeLine(text, to: STDERR_FILENO) }

/// Writes straight to the descriptor, so a pipe reading the counts sees each line at once.
func writeLine(_ text: String, to descriptor: Int32) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}

/// Tracepoints are found through tracefs: mounts it when nothing has (as root).
func mountTracefsIfNeeded() throws {
    let tracefs = try Tracefs.findOrMount()
    if tracefs.mountedNow { message("tracefs was not mounted; mounted it at \(tracefs.path)") }
}

/// The kprobe on sys_execve where the kernel has kprobes, the syscall tracepoint otherwise.
func attach(_ objects: ExeccountObjects) throws -> any Link {
    let kprobeError: LinkError
    do {
        let probe = try Kprobe(symbol: "sys_execve", program: objects.kprobeExecve)
        message("attached kprobe to \(probe.symbol)")
        return probe
    } catch {
        kprobeError = error
    }
    guard case .notSupported(let feature, let requirement, _) = kprobeError else { throw kprobeError }
    message("\(feature) not supported by this kernel (needs \(requirement)); using tracepoint syscalls:sys_enter_execve instead")
    try mountTracefsIfNeeded()
    return try Tracepoint(group: "syscalls", name: "sys_enter_execve", program: objects.tracepointExecve)
}

func main() throws {
    let objects = try loadExeccountObjects()
    defer { try? objects.close() }

    let link = try attach(objects)
    defer { try? link.close() }

    // A parent may have blocked these (a blocked mask is inherited through exec); Ctrl-C must work.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    signal(SIGINT) { _ in interrupted = 1 }
    signal(SIGTERM) { _ in interrupted = 1 }
    message("counting execve calls; Ctrl-C to stop")
    while interrupted == 0 {
        var pause = timespec(tv_sec: 1, tv_nsec: 0)
        var remaining = timespec()
        // nanosleep returns early on a signal, which is when the loop should end.
        _ = nanosleep(&pause, &remaining)
        if interrupted != 0 { break }
        let count: UInt64 = try objects.kprobeMap.lookup(UInt32(0)) ?? 0
        writeLine("sys_execve called \(count) times", to: STDOUT_FILENO)
    }
    message("detaching and closing")
}

do {
    try main()
} catch {
    message("execcount: \(error)")
    exit(1)
}
