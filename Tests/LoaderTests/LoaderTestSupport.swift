import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

/// The loader's tier 2 and 3 suites, run one after another: several compare the kernel's map and
/// program IDs before and after a load, which other loads running at the same time would disturb.
@Suite(.serialized) struct LoaderSuites {}

/// The little-endian testdata object `name` (without `-el.o`) as a spec.
func testdataSpec(_ name: String) throws -> CollectionSpec {
    try CollectionSpec(elfFile: TestData.path("\(name)-el.o"))
}

/// A 64-byte packet, more than the 14-byte Ethernet header test runs of XDP and socket filters need.
let packet = [UInt8](repeating: 0xab, count: 64)

/// The context of a raw tracepoint test run of `sys_enter`: `struct pt_regs *regs, long id`.
let rawTracepointContext = [UInt8](repeating: 0, count: 16)

extension Variable {
    /// The variable's bytes as 64-bit words, host order.
    func words() throws -> [UInt64] {
        let bytes = try bytes()
        return stride(from: 0, to: bytes.count - 7, by: 8).map { start in
            bytes[start..<(start + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << UInt64($1.offset * 8) }
        }
    }

    /// The variable as a NUL-terminated string.
    func string() throws -> String {
        String(decoding: try bytes().prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// The kernel-wide IDs of every map and program.
struct KernelObjectIDs: Equatable {
    var maps: Set<UInt32>
    var programs: Set<UInt32>

    static func now() throws -> KernelObjectIDs {
        KernelObjectIDs(maps: Set(try Map.allIDs()), programs: Set(try Program.allIDs()))
    }

    /// The IDs added since `before` once the kernel has freed what was closed: maps go away
    /// asynchronously after their last reference (after an RCU grace period, which can take
    /// seconds on a busy machine), so this waits up to ten seconds for them.
    /// Only objects named like something in `spec` count (see ``named(_:)``).
    /// Names in `ignoring` are left out: tests of other targets running at the same time create
    /// objects of those names too.
    static func settled(since before: KernelObjectIDs, spec: CollectionSpec, ignoring: Set<String> = []) throws -> KernelObjectIDs {
        let names = Set(spec.programs.keys).union(spec.maps.keys).subtracting(ignoring)
        var added = try now().added(since: before).named(names)
        for _ in 0..<200 where !added.maps.isEmpty || !added.programs.isEmpty {
            usleep(50_000)
            added = try now().added(since: before).named(names)
        }
        return added
    }

    /// Only the IDs of maps and programs whose kernel names (at most 15 bytes) are in `names`:
    /// tests of other targets may load objects of their own meanwhile.
    func named(_ names: Set<String>) -> KernelObjectIDs {
        let kernelNames = Set(names.map { String(decoding: Array($0.utf8.prefix(15)), as: UTF8.self) })
        return KernelObjectIDs(
            maps: maps.filter { id in (try? Map(id: id).withClosing { try $0.info().name }).map(kernelNames.contains) ?? false },
            programs: programs.filter { id in
                (try? Program(id: id)).map { program in
                    defer { try? program.close() }
                    return (try? program.info().name).map(kernelNames.contains) ?? false
                } ?? false
            })
    }

    /// The IDs present now that were not in `before`.
    func added(since before: KernelObjectIDs) -> KernelObjectIDs {
        KernelObjectIDs(maps: maps.subtracting(before.maps), programs: programs.subtracting(before.programs))
    }
}

/// The names in a directory, without `.` and `..`; empty when it cannot be read.
func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// A fresh directory on the BPF file system (mounted when it is not) for one test's pins.
func makePinDirectory(_ name: String) throws -> String {
    try ensureBPFFileSystem()
    let path = "/sys/fs/bpf/swift_ebpf_loader_\(getpid())_\(name)"
    removePinDirectory(path)
    guard mkdir(path, 0o700) == 0 else { throw PinDirectoryError(path: path, errno: errno) }
    return path
}

/// Removes `path` and the pins in it.
func removePinDirectory(_ path: String) {
    for name in directoryEntries(path) {
        unlink(path + "/" + name)
    }
    rmdir(path)
}

struct PinDirectoryError: Error {
    var path: String
    var errno: Int32
}

private func ensureBPFFileSystem() throws {
    var info = stat()
    if stat("/sys/fs/bpf", &info) == 0, let mounts = readFile("/proc/self/mounts") {
        let text = String(decoding: mounts, as: UTF8.self)
        if text.split(separator: "\n").contains(where: { $0.split(separator: " ").dropFirst().prefix(2) == ["/sys/fs/bpf", "bpf"] }) {
            return
        }
    }
    guard mount("bpf", "/sys/fs/bpf", "bpf", 0, nil) == 0 else {
        throw PinDirectoryError(path: "/sys/fs/bpf", errno: errno)
    }
}

/// The name of the calling thread, as the kernel keeps it in `task_struct.comm`.
func currentThreadName() -> String {
    let path = "/proc/self/task/\(gettid())/comm"
    let bytes = readFile(path) ?? []
    return String(decoding: bytes.prefix { $0 != 0x0a }, as: UTF8.self)
}

/// The calling thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`): Glibc's module map
/// exports neither `gettid` nor the variadic `syscall`.
func gettid() -> Int32 {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard count > 0 else { return -1 }
    let link = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return link.split(separator: "/").last.flatMap { Int32($0) } ?? -1
}
