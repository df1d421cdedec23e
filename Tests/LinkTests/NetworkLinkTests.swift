import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// Two UDP sockets on 127.0.0.1: `receiver` is non-blocking, `send()` sends it one datagram.
struct LoopbackUDP: ~Copyable {
    let receiver: Int32
    let sender: Int32
    private var address = sockaddr_in()

    init() throws {
        receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var bound = address
        let status = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver, $0, &length) }
        }
        guard receiver >= 0, sender >= 0, status == 0, named == 0 else {
            throw LinkError.system(operation: "loopback UDP setup", errno: Errno(rawValue: errno))
        }
    }

    func send() {
        var target = address
        let byte: [UInt8] = [42]
        _ = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(sender, byte, 1, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Whether a datagram is waiting (after a short settling delay).
    func received() -> Bool {
        usleep(20_000)
        var buffer = [UInt8](repeating: 0, count: 16)
        return recv(receiver, &buffer, buffer.count, 0) > 0
    }

    deinit {
        close(receiver)
        close(sender)
    }
}

/// The cgroup v2 directory of this process: its `0::` entry under the cgroup2 mount (which is
/// `/sys/fs/cgroup/unified` on hybrid systems).
func ownCgroupPath() -> String? {
    guard let mounts = readFile("/proc/self/mountinfo"), let own = readFile("/proc/self/cgroup") else { return nil }
    var mountPoint: String?
    for line in String(decoding: mounts, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: " ")
        if let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count, fields[separator + 1] == "cgroup2",
            fields.count > 4
        {
            mountPoint = String(fields[4])
            break
        }
    }
    guard let mountPoint else { return nil }
    for line in String(decoding: own, as: UTF8.self).split(separator: "\n") where line.hasPrefix("0::") {
        let relative = line.dropFirst(3)
        return relative == "/" ? mountPoint : mountPoint + relative
    }
    return nil
}

@Suite(
    "socket filter, XDP and cgroup links (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) to attach network programs"))
struct NetworkLinkTests {
    @Test func socketFilterDropsAndDetaches() throws {
        let udp = try LoopbackUDP()
        let counter = try Counter(type: .socketFilter, returning: 0)
        try SocketFilter.attach(program: counter.program, toSocket: udp.receiver)
        udp.send()
        let droppedReceived = udp.received()
        #expect(!droppedReceived, "the filter should drop the datagram")
        #expect(try counter.count() == 1)
        try SocketFilter.detach(fromSocket: udp.receiver)
        udp.send()
        do { let got = udp.received(); #expect(got) }
        #expect(try counter.count() == 1)
    }

    @Test func xdpOnLoopbackSeesPackets() throws {
        let udp = try LoopbackUDP()
        let counter = try Counter(type: .xdp, returning: 2)  // XDP_PASS
        let link = try XDP.attach(interfaceName: "lo", program: counter.program, mode: .generic)
        udp.send()
        do { let got = udp.received(); #expect(got) }
        #expect(try counter.count() >= 1)
        let info = try link.info()
        #expect(info.type == 6)  // BPF_LINK_TYPE_XDP
        #expect(info.extra(as: XDPLinkInfo.self).ifindex == if_nametoindex("lo"))
        try link.close()
        #expect(throws: LinkError.self) { try XDP.attach(interfaceName: "no-such-if0", program: counter.program) }
    }

    @Test func cgroupLinkCountsAndUpdates() throws {
        let path = try #require(ownCgroupPath(), "no cgroup v2 entry in /proc/self/cgroup")
        let udp = try LoopbackUDP()
        let first = try Counter(type: .cgroupSKB, returning: 1)
        let second = try Counter(type: .cgroupSKB, returning: 1)
        let link = try Cgroup.attach(path: path, attachType: .cgroupINetEgress, program: first.program)
        udp.send()
        do { let got = udp.received(); #expect(got) }
        #expect(try first.count() >= 1)
        try link.update(program: second.program)
        let before = try first.count()
        udp.send()
        do { let got = udp.received(); #expect(got) }
        #expect(try second.count() >= 1)
        #expect(try link.info().type == 3)  // BPF_LINK_TYPE_CGROUP
        try link.close()
        _ = before
        #expect(throws: LinkError.self) {
            try Cgroup.attach(path: "/sys/fs/cgroup/no-such-cgroup-xyz", attachType: .cgroupINetEgress, program: first.program)
        }
    }

    @Test func legacyCgroupAttachDetachesOnClose() throws {
        let path = try #require(ownCgroupPath(), "no cgroup v2 entry in /proc/self/cgroup")
        let udp = try LoopbackUDP()
        let counter = try Counter(type: .cgroupSKB, returning: 1)
        let attachment = try Cgroup.attachLegacy(path: path, attachType: .cgroupINetEgress, program: counter.program)
        udp.send()
        do { let got = udp.received(); #expect(got) }
        let seen = try counter.count()
        #expect(seen >= 1)
        try attachment.close()
        #expect(attachment.isClosed)
        #expect(throws: LinkError.self) { try attachment.info() }
    }
}
