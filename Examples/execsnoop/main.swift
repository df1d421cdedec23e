// execsnoop: prints every exec on the system as it happens, with its arguments, like the
// execsnoop of bcc and libbpf-tools. bpf/execsnoop.bpf.c watches the execve syscall tracepoints
// and sends one event per exec through a ring buffer; this program reads them with a
// RingBufferReader's fast asynchronous path (forEachBatch: the records of each wake-up lent in
// place) and decodes each event's header into ExecsnoopTypes.exec_header, the struct bpf2swift
// generated from the object's BTF.
//
//     sudo swift run execsnoop [-x]     (-x: also failed execs)
import Dispatch
import EBPF
import Glibc

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

func run(showFailed: Bool) async throws {
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

    // Ctrl-C and SIGTERM (blocked in every thread, see below) close the reader, which ends the
    // read loop.
    var stopSources: [any DispatchSourceSignal] = []
    for stop in [SIGINT, SIGTERM] {
        let source = DispatchSource.makeSignalSource(signal: stop, queue: .global())
        source.setEventHandler { reader.close() }
        source.resume()
        stopSources.append(source)
    }
    defer { for source in stopSources { source.cancel() } }
    message("tracing execve; Ctrl-C to stop")
    write(column("PCOMM", 16) + " " + column("PID", 7) + " " + column("PPID", 7) + " RET ARGS\n", to: STDOUT_FILENO)

    // One call per wake-up with every event that came: decoded in place, printed in one write.
    var output = ""
    try await reader.forEachBatch { batch in
        for record in batch {
            guard let event = ExecEvent(record), showFailed || event.header.retval == 0 else { continue }
            output += event.line
        }
        write(output, to: STDOUT_FILENO)
        output.removeAll(keepingCapacity: true)
    }
    message("detaching and closing")
}

// SIGINT and SIGTERM stay pending for the signal sources in `run` instead of ending the process:
// blocked here, before any thread starts, so that every thread inherits the mask.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGINT)
sigaddset(&stopSignals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("-h") || arguments.contains("--help") || arguments.contains(where: { !["-x", "--fails"].contains($0) }) {
    message("usage: execsnoop [-x|--fails]\n  prints every exec with its arguments until Ctrl-C; -x also prints failed ones; needs root")
    exit(arguments.contains("-h") || arguments.contains("--help") ? 0 : 2)
}
do {
    try await run(showFailed: arguments.contains("-x") || arguments.contains("--fails"))
} catch {
    message("execsnoop: \(error)")
    exit(1)
}
