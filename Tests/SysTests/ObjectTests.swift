import Glibc
import Testing
import TestSupport

@testable import EBPFSys

private let bpffsPath = "/sys/fs/bpf"

/// The contents of a small text file such as /proc/self/mounts.
private func readTextFile(_ path: String) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return "" }
    defer { _ = close(descriptor) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        contents += chunk[..<count]
    }
    return String(decoding: contents, as: UTF8.self)
}

/// Mounts bpffs at /sys/fs/bpf unless a BPF file system is mounted there already.
private func ensureBPFFSMounted() throws {
    let mounted = readTextFile("/proc/self/mounts").split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 2 && fields[1] == bpffsPath && fields[2] == "bpf"
    }
    if mounted {
        return
    }
    guard mount("bpf", bpffsPath, "bpf", 0, nil) == 0 else {
        throw Errno.current
    }
}

/// A minimal BTF blob: header, one `int` type and the string table `"\0int\0"`.
private let minimalBTF: [UInt8] = {
    var blob: [UInt8] = [0x9f, 0xeb, 1, 0]  // magic 0xeB9F (little endian), version 1, flags 0
    blob += bytes(of: UInt32(24))  // hdr_len
    blob += bytes(of: UInt32(0)) + bytes(of: UInt32(16))  // type_off, type_len
    blob += bytes(of: UInt32(16)) + bytes(of: UInt32(5))  // str_off, str_len
    blob += bytes(of: UInt32(1)) + bytes(of: UInt32(1 << 24)) + bytes(of: UInt32(4))  // "int", BTF_KIND_INT, 4 bytes
    blob += bytes(of: UInt32(1 << 24 | 32))  // signed, 32 bits
    blob += Array("\0int\0".utf8)
    return blob
}()

@Suite("Objects (root)", .checksFileDescriptorLeaks, .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN: mounts bpffs, pins objects and loads BTF"))
struct ObjectTests {
    @Test func pinAndOpenPinned() throws {
        try ensureBPFFSMounted()
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
        try Sys.updateElement(map: map, key: bytes(of: UInt32(0)), value: bytes(of: UInt32(99)))
        let path = "\(bpffsPath)/swift_ebpf_sys_test_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        try Sys.pin(map, at: path)
        defer { _ = unlink(path) }

        let reopened = try Sys.openPinned(at: path)
        let stored = try Sys.lookupElement(map: reopened, key: bytes(of: UInt32(0)), valueSize: 4)
        #expect(value(UInt32.self, from: stored) == 99)
        #expect(try Sys.objectInfo(of: reopened, as: MapInfo.self).id == Sys.objectInfo(of: map, as: MapInfo.self).id)

        let again = #expect(throws: BPFSyscallError.self) { try Sys.pin(map, at: path) }
        #expect(again?.errno == .fileExists)
    }

    @Test func pinOutsideBPFFSNamesTheCause() throws {
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
        let error = #expect(throws: BPFSyscallError.self) {
            try Sys.pin(map, at: "/tmp/swift_ebpf_not_bpffs_\(getpid())")
        }
        #expect(error?.errno == .notPermitted)
        #expect(error?.hint == .pinPathNotOnBPFFS)
    }

    @Test func loadBTFAndReadItsInfo() throws {
        let btf = try Sys.loadBTF(minimalBTF)
        let info = try Sys.objectInfo(of: btf, as: BTFInfo.self)
        #expect(info.id != 0)
        #expect(info.btfSize == UInt32(minimalBTF.count))
        #expect(info.kernelBTF == 0)
        let reopened = try Sys.openObject(.btf, id: info.id)
        #expect(try Sys.objectInfo(of: reopened, as: BTFInfo.self).id == info.id)
    }

    @Test func badBTFCarriesTheKernelLog() {
        var broken = minimalBTF
        broken[0] = 0
        let error = #expect(throws: BPFSyscallError.self) { _ = try Sys.loadBTF(broken) }
        #expect(error?.command == .btfLoad)
        #expect(error?.errno == .invalidArgument)
        #expect(error?.log?.isEmpty == false)
    }

    @Test func kernelBTFIsListedByID() throws {
        var found = false
        var id: UInt32 = 0
        while let next = try Sys.nextID(of: .btf, after: id) {
            id = next
            let handle = try Sys.openObject(.btf, id: next)
            if try Sys.objectInfo(of: handle, as: BTFInfo.self).kernelBTF != 0 {
                found = true
                break
            }
        }
        #expect(found, "vmlinux BTF has an ID on kernels with /sys/kernel/btf/vmlinux")
    }

    @Test func enableRunTimeStatistics() throws {
        var attributes = EnableStatsAttr()
        attributes.type = 0  // BPF_STATS_RUN_TIME
        var statistics = try Sys.enableStats(attributes)
        #expect(statistics.rawValue > 0)
        try statistics.close()
    }

    @Test func queryRootCgroup() throws {
        // cgroup v2 sits at /sys/fs/cgroup or, on hybrid hosts like these, /sys/fs/cgroup/unified.
        var mountPoint: String? = nil
        for line in readTextFile("/proc/self/mounts").split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 2, fields[2] == "cgroup2" {
                mountPoint = String(fields[1])
                break
            }
        }
        let path = try #require(mountPoint, "a cgroup v2 mount")
        let cgroup = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(cgroup >= 0, "open \(path)")
        let owner = try FileDescriptor(adopting: cgroup)
        var attributes = ProgQueryAttr()
        attributes.targetFD = UInt32(bitPattern: owner.rawValue)
        attributes.attachType = 0  // BPF_CGROUP_INET_INGRESS
        try Sys.progQuery(&attributes)
        #expect(attributes.progCnt < 1_000_000)
    }

    @Test func tokenFromAnUndelegatedBPFFSIsRefused() throws {
        try ensureBPFFSMounted()
        let root = open(bpffsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(root >= 0)
        let owner = try FileDescriptor(adopting: root)
        var attributes = TokenCreateAttr()
        attributes.bpffsFD = UInt32(bitPattern: owner.rawValue)
        let error = #expect(throws: BPFSyscallError.self) { _ = try Sys.tokenCreate(attributes) }
        #expect(error?.command == .tokenCreate)
    }

    @Test func missingIDIsATypedError() {
        let error = #expect(throws: BPFSyscallError.self) { _ = try Sys.openObject(.map, id: UInt32.max) }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.command == .mapGetFDByID)
    }
}
