// execsnoop: prints every exec on the system as it happens, with its arguments, like the
// execsnoop of bcc and libbpf-tools. bpf/execsnoop.bpf.c watches the execve syscall tracepoints
// and sends one event per exec through a ring buffer; this program reads them with a
// RingBufferReader and decodes each event's header into ExecsnoopTypes.exec_header, the struct
// bpf2swift generated from the object's BTF.
//
//     sudo swift run execsnoop [-x]     (-x: also failed execs)
import EBPF
import Glibc

/// Set by the SIGINT and SIGTERM handlers; the read loop looks at it between waits.
nonisolated(unsafe) var interrupted: sig_atomic_t = 0

/// Writes straight to the descriptor, so that a pipe sees each batch of lines at once.
func write(_ text: String, to descriptor: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

func message(_ text: String) { write(text + "\n", to: STDERR_FILENO) }

/// `text` left-aligned in a column of `width` characters (or longer when it does not fit).
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// `text` right-aligned in a column of `width` characters.
func rightColumn(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// One exec as the BPF program reported it.
struct ExecEvent {
    var header: ExecsnoopTypes.exec_header
    var arguments: [String]

    /// Decodes a ring buffer record: the header, then `args_size` bytes of NUL-terminated
    /// strings. nil for a record too short for its header.
    init?(_ record: RingBufferRecordView) {
        guard let header = record.load(as: ExecsnoopTypes.exec_header.self) else { return nil }
        self.header = header
        let strings = record.bytes(after: ExecsnoopTypes.exec_header.self).prefix(Int(header.args_size))
        arguments = strings.split(separator: 0, omittingEmptySubsequences: false)
            .prefix(Int(header.args_count))
            .map { String(decoding: $0, as: UTF8.self) }
        if header.truncated != 0 { arguments.append("...") }
    }

    /// PCOMM PID PPID RET ARGS, in libbpf-tools' columns.
    var line: String {
        column(header.commString, 16) + " " + column(String(header.pid), 7) + " "
            + column(String(header.ppid), 7) + " " + rightColumn(String(header.retval), 3) + " "
            + arguments.joined(separator: " ") + "\n"
    }
}

func run(showFailed: Bool) throws {
    let tracefs = try Tracefs.findOrMount()
    if tracefs.mountedNow { message("tracefs was not mounted; mounted it at \(tracefs.path)") }

    let objects = try loadExecsnoopObjects()
    defer { try? objects.close() }
    let enter = try Tracepoint(group: "syscalls", name: "sys_enter_execve", program: objects.execveEnter)
    defer { try? enter.close() }
    let exitLink = try Tracepoint(group: "syscalls", name: "sys_exit_execve", program: objects.execveExit)
    defer { try? exitLink.close() }
    let reader = try RingBufferReader(objects.events)
    defer { reader.close() }

    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    signal(SIGINT) { _ in interrupted = 1 }
    signal(SIGTERM) { _ in interrupted = 1 }
    message("tracing execve; Ctrl-C to stop")
    write(column("PCOMM", 16) + " " + column("PID", 7) + " " + column("PPID", 7) + " RET ARGS\n", to: STDOUT_FILENO)

    var output = ""
    let collect = { (record: RingBufferRecordView) in
        guard let event = ExecEvent(record), showFailed || event.header.retval == 0 else { return }
        output += event.line
    }
    while interrupted == 0 {
        // Wait briefly for one event so that the loop sees Ctrl-C, then take all that came with it.
        do {
            try reader.readRecord(deadline: .now.advanced(by: .milliseconds(200)), collect)
        } catch ReaderError.timedOut {
            continue
        }
        try reader.consume(collect)
        write(output, to: STDOUT_FILENO)
        output.removeAll(keepingCapacity: true)
    }
    message("detaching and closing")
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("-h") || arguments.contains("--help") || arguments.contains(where: { !["-x", "--fails"].contains($0) }) {
    message("usage: execsnoop [-x|--fails]\n  prints every exec with its arguments until Ctrl-C; -x also prints failed ones; needs root")
    exit(arguments.contains("-h") || arguments.contains("--help") ? 0 : 2)
}
do {
    try run(showFailed: arguments.contains("-x") || arguments.contains("--fails"))
} catch {
    message("execsnoop: \(error)")
    exit(1)
}
