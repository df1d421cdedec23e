import EBPFASM
import EBPFCollection
import EBPFNetlink
import EBPFSys
import Glibc
import TestSupport

@testable import EBPFLink

/// Two scratch network namespaces joined by a device pair that our netlink client creates:
/// `near` (in `left`, 10.117.0.1/24) and `far` (in `right`, 10.117.0.2/24), both up. Packets
/// from `left` to `right` leave through `near` and arrive through `far`.
final class ScratchPair {
    let left: ScratchNetworkNamespace
    let right: ScratchNetworkNamespace
    let nearName: String
    let farName: String
    /// The devices' indexes, each in its own namespace.
    let nearIndex: UInt32
    let farIndex: UInt32
    static let leftAddress: [UInt8] = [10, 117, 0, 1]
    static let rightAddress: [UInt8] = [10, 117, 0, 2]

    /// A veth pair, or with `netkit` a netkit pair whose primary is `near`.
    init(netkit: NetkitOptions? = nil, nearName: String = "nl17near", farName: String = "nl17far") throws {
        left = try ScratchNetworkNamespace()
        right = try ScratchNetworkNamespace()
        self.nearName = nearName
        self.farName = farName
        let rightDescriptor = right.descriptor
        nearIndex = try left.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            if let netkit {
                try netlink.createNetkitPair(
                    name: nearName, peerName: farName, options: netkit, peerNamespaceDescriptor: rightDescriptor)
            } else {
                try netlink.createVethPair(name: nearName, peerName: farName, peerNamespaceDescriptor: rightDescriptor)
            }
            let near = try netlink.device(named: nearName)
            try netlink.setDevice(index: near.index, up: true)
            try netlink.addIPv4Address(Self.leftAddress, prefixLength: 24, deviceIndex: near.index)
            return near.index
        }
        farIndex = try right.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            let far = try netlink.device(named: farName)
            try netlink.setDevice(index: far.index, up: true)
            try netlink.addIPv4Address(Self.rightAddress, prefixLength: 24, deviceIndex: far.index)
            return far.index
        }
    }
}

/// A UDP socket bound in the namespace that was current when it was made.
final class UDPEndpoint {
    let socket: Int32
    let port: UInt16

    init(address: [UInt8]) throws {
        let descriptor = Glibc.socket(
            AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var local = Self.socketAddress(address, port: 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard descriptor >= 0, bound == 0, named == 0 else {
            let failure = errno
            if descriptor >= 0 { close(descriptor) }
            throw LinkError.system(operation: "UDP endpoint setup", errno: Errno(rawValue: failure))
        }
        socket = descriptor
        port = UInt16(bigEndian: local.sin_port)
    }

    static func socketAddress(_ address: [UInt8], port: UInt16) -> sockaddr_in {
        var result = sockaddr_in()
        result.sin_family = sa_family_t(AF_INET)
        result.sin_port = port.bigEndian
        result.sin_addr.s_addr = (UInt32(address[0]) << 24 | UInt32(address[1]) << 16 | UInt32(address[2]) << 8 | UInt32(address[3])).bigEndian
        return result
    }

    /// Sends `count` one-byte datagrams to `address`:`port`.
    func send(_ count: Int, to address: [UInt8], port: UInt16) {
        var target = Self.socketAddress(address, port: port)
        for _ in 0..<count {
            let byte: [UInt8] = [17]
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, byte, 1, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// How many datagrams arrive: waits up to 5 s for `expected` (the first datagrams wait for
    /// neighbour resolution, on a loaded machine), and 1 s when none are expected.
    func receive(expecting expected: Int) -> Int {
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        for _ in 0..<(expected > 0 ? 250 : 50) {
            while recv(socket, &buffer, buffer.count, 0) > 0 { received += 1 }
            if received >= expected && expected > 0 { break }
            usleep(20_000)
        }
        return received
    }

    deinit { close(socket) }
}

/// A program that counts IPv4 packets in a one-slot array map and gives them `verdict`; every
/// other packet (ARP, IPv6 neighbour discovery) passes uncounted, so the count is exactly the
/// test's datagrams.
struct IPv4Counter: ~Copyable {
    let map: FileDescriptor
    let program: Program

    /// A `SCHED_CLS` program: `skb->protocol` (offset 16 of `__sk_buff`) says IPv4. Passing is
    /// 0 (`TC_ACT_OK`, `TCX_PASS`, `NETKIT_PASS`), dropping 2 (`TC_ACT_SHOT`, `TCX_DROP`, `NETKIT_DROP`).
    init(classifierReturning verdict: Int32) throws {
        try self.init(type: .schedCls, verdict: verdict, passing: 0) {
            [.load(.r0, from: .r1, offset: 16, size: .word), .jumpIf(.r0, .notEqual, Self.ipv4, label: "pass")]
        }
    }

    /// An `XDP` program: the Ethernet type at byte 12 of the frame says IPv4. `XDP_PASS` is 2,
    /// `XDP_DROP` 1.
    init(xdpReturning verdict: Int32) throws {
        try self.init(type: .xdp, verdict: verdict, passing: 2) {
            [
                .load(.r2, from: .r1, offset: 0, size: .word),  // data
                .load(.r3, from: .r1, offset: 4, size: .word),  // data_end
                .mov64(.r4, .r2), .add64(.r4, 14), .jumpIf(.r4, .greaterThan, .r3, label: "pass"),
                .load(.r0, from: .r2, offset: 12, size: .halfWord), .jumpIf(.r0, .notEqual, Self.ipv4, label: "pass"),
            ]
        }
    }

    /// `htons(ETH_P_IP)` as the program reads it from memory.
    private static let ipv4 = Int32(UInt16(0x0800).bigEndian)

    private init(type: ProgramType, verdict: Int32, passing: Int32, match: () -> [Instruction]) throws {
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
        var builder = ProgramBuilder()
        builder.append(contentsOf: match())
        builder.append(contentsOf: [
            .store(0, to: .r10, offset: -4, size: .word),
            .mov64(.r2, .r10), .add64(.r2, -4),
            .loadMapPointer(.r1, fileDescriptor: map.rawValue),
            .callHelper(1),  // bpf_map_lookup_elem
            .jumpIf(.r0, .equal, 0, label: "verdict"),
            .mov64(.r1, 1),
            .atomic(.add, .r1, on: .r0, size: .doubleWord),
        ])
        builder.label("verdict")
        builder.append(contentsOf: [.mov64(.r0, verdict), .exit()])
        builder.label("pass")
        builder.append(contentsOf: [.mov64(.r0, passing), .exit()])
        let bytes = try builder.build().encoded(byteOrder: .host)
        program = try Program(
            adopting: Sys.loadProgram(
                type: type.rawValue, instructions: bytes, license: "GPL", name: try BPFObjectName("nl17_ipv4")
            ).takeDescriptor())
        self.map = map
    }

    /// How many IPv4 packets the program saw.
    func count() throws -> UInt64 {
        let bytes = try Sys.lookupElement(map: map, key: [0, 0, 0, 0], valueSize: 8)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// `tc filter show dev DEVICE HOOK` and `tc qdisc show dev DEVICE` in the calling thread's
/// namespace (a spawned child inherits it), or nil without iproute2's `tc`.
func iproute2Listing(device: String) throws -> (filters: String, qdiscs: String)? {
    let candidates: [String] = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"]
    let tc = candidates.first { access($0, X_OK) == 0 }
    guard let tc else { return nil }
    let ingress = try runSubprocess(tc, ["filter", "show", "dev", device, "ingress"]).text
    let egress = try runSubprocess(tc, ["filter", "show", "dev", device, "egress"]).text
    let qdiscs = try runSubprocess(tc, ["qdisc", "show", "dev", device]).text
    return (ingress + egress, qdiscs)
}
