import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc

let bpffsPath = "/sys/fs/bpf"

struct MountFailed: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { "mounting bpffs at \(bpffsPath): errno \(errno)" }
}

/// Mounts bpffs at /sys/fs/bpf unless a BPF file system is mounted there already.
func ensureBPFFSMounted() throws {
    let descriptor = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC)
    var contents: [UInt8] = []
    if descriptor >= 0 {
        defer { _ = close(descriptor) }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            contents += chunk[..<count]
        }
    }
    let mounted = String(decoding: contents, as: UTF8.self).split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 2 && fields[1] == bpffsPath && fields[2] == "bpf"
    }
    if mounted { return }
    guard mount("bpf", bpffsPath, "bpf", 0, nil) == 0 else {
        throw MountFailed(errno: Glibc.errno)
    }
}

/// A pin path unique to this process and test.
func uniquePinPath(_ name: String) -> String {
    "\(bpffsPath)/swift_ebpf_objects_\(getpid())_\(name)"
}

func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// The number of descriptors this process has open.
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count
}

/// A 14-byte Ethernet frame plus a little payload: the smallest packet socket filter test runs take.
let testPacket = [UInt8](repeating: 0xab, count: 64)

/// A socket filter returning `value`.
func returningProgram(_ value: Int32, name: String = "returns") throws -> Program {
    try Program(spec: ProgramSpec(name: name, type: .socketFilter, instructions: [.mov64(.r0, value), .exit()]))
}

extension MapSpec {
    static func hash(_ name: String = "test_hash", key: UInt32 = 4, value: UInt32 = 8, entries: UInt32 = 128) -> MapSpec {
        MapSpec(name: name, type: .hash, keySize: key, valueSize: value, maxEntries: entries)
    }
}
