import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// Sends one Ethernet frame carrying a minimal IPv4/UDP packet out of `lo` through an
/// `AF_PACKET` socket: the kernel dissects it (to find the transport header), which runs the
/// namespace's flow dissector program.
private func sendRawFrameOnLoopback() throws {
    let packetSocket = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard packetSocket >= 0 else { throw LinkError.system(operation: "AF_PACKET socket", errno: Errno(rawValue: errno)) }
    defer { close(packetSocket) }
    var frame = [UInt8](repeating: 0, count: 14 + 20 + 8)
    frame[12] = 0x08  // ETH_P_IP
    frame[14] = 0x45  // IPv4, 5-word header
    frame[17] = 28  // total length
    frame[22] = 64  // TTL
    frame[23] = 17  // UDP
    for (offset, byte) in [127, 0, 0, 1, 127, 0, 0, 1].enumerated() { frame[26 + offset] = UInt8(byte) }
    frame[36] = 0x30  // destination port 12345
    frame[37] = 0x39
    frame[39] = 8  // UDP length
    // struct sockaddr_ll: family, protocol (big-endian), ifindex, hatype, pkttype, halen, addr[8].
    var address = [UInt8](repeating: 0, count: 20)
    address[0] = UInt8(AF_PACKET)
    address[2] = 0x08  // ETH_P_IP, big-endian
    address[4] = 1  // ifindex of lo
    address[11] = 6  // halen
    let sent = address.withUnsafeBytes { bytes in
        sendto(
            packetSocket, frame, frame.count, 0, bytes.baseAddress?.assumingMemoryBound(to: sockaddr.self),
            socklen_t(bytes.count))
    }
    guard sent == frame.count else { throw LinkError.system(operation: "send raw frame on lo", errno: Errno(rawValue: errno)) }
}

@Suite(
    "network namespace links (sk_lookup, flow dissector)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces"))
struct NetNSTests {
    @Test func flowDissectorRunsForDissectedPackets() throws {
        let namespace = try ScratchNetworkNamespace()
        let dissector = try Counter(type: .flowDissector, expectedAttachType: .flowDissector, returning: 0)  // BPF_OK
        let link = try NetNS.attach(program: dissector.program, namespaceDescriptor: namespace.descriptor)
        try namespace.run { try sendRawFrameOnLoopback() }
        #expect(try dissector.count() >= 1)
        let info = try link.info()
        #expect(info.type == 5)  // BPF_LINK_TYPE_NETNS
        #expect(info.extra(as: NetNsLinkInfo.self).attachType == AttachType.flowDissector.rawValue)
        let attached = try ProgramQuery.query(namespacePath: namespace.path, attachType: .flowDissector)
        #expect(attached.programs.map(\.programID) == [try dissector.program.info().id])

        // One flow dissector per namespace: a second link is refused.
        let second = try Counter(type: .flowDissector, expectedAttachType: .flowDissector, returning: 0)
        #expect(throws: LinkError.self) { try NetNS.attach(program: second.program, namespacePath: namespace.path) }
        try link.update(program: second.program)
        try namespace.run { try sendRawFrameOnLoopback() }
        #expect(try second.count() >= 1)
        try link.close()
        let before = try second.count()
        try namespace.run { try sendRawFrameOnLoopback() }
        #expect(try second.count() == before, "the closed link no longer runs the program")
    }

    @Test func socketLookupCountsAndDrops() throws {
        let namespace = try ScratchNetworkNamespace()
        let passer = try Counter(type: .skLookup, expectedAttachType: .skLookup, returning: 1)  // SK_PASS
        let link = try NetNS.attach(program: passer.program, namespacePath: namespace.path)
        try namespace.run {
            let udp = try LoopbackUDP()
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try passer.count() == 1)
            let dropper = try Counter(type: .skLookup, expectedAttachType: .skLookup, returning: 0)  // SK_DROP
            let dropLink = try NetNS.attach(program: dropper.program, namespaceDescriptor: namespace.descriptor)
            udp.send()
            do { let got = udp.received(); #expect(!got, "SK_DROP from the second program drops the datagram") }
            let dropped = try dropper.count()
            let passed = try passer.count()
            // Both programs run for every lookup (the ICMP error for the dropped datagram causes a
            // second one, for the sender's socket).
            #expect(dropped >= 1)
            #expect(passed == 1 + dropped)
            try dropLink.close()
            udp.send()
            do { let got = udp.received(); #expect(got) }
        }
        #expect(try link.info().extra(as: NetNsLinkInfo.self).attachType == AttachType.skLookup.rawValue)
        try link.close()
    }

    @Test func wrongProgramType() throws {
        let program = try trivialProgram(type: .socketFilter)
        #expect {
            try NetNS.attach(program: program)
        } throws: { error in
            guard case .wrongProgramType(_, let expected, .socketFilter) = error as? LinkError else { return false }
            return expected == [.flowDissector, .skLookup]
        }
    }
}
