import EBPFCollection
import EBPFNetlink
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A netkit pair made by our netlink client, with programs on both ends and traffic through a
/// second namespace. Runs in the 6.12 VM (`Scripts/vm-test.sh --kernel 6.12 Netkit`); iproute2
/// 6.1 on the host cannot create netkit devices, and the host kernel has no netkit.
@Suite(
    "netkit pair carrying traffic", .serialized, .checksFileDescriptorLeaks, .requires(.netkit),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and netkit"))
struct NetkitPairTests {
    @Test func primaryAndPeerProgramsCountTraffic() throws {
        guard KernelFeature.netkit.check() else { return }
        let pair = try ScratchPair(netkit: NetkitOptions(mode: .layer3))
        let primary = try IPv4Counter(classifierReturning: 0)  // NETKIT_PASS
        let peer = try IPv4Counter(classifierReturning: 0)
        let dropper = try IPv4Counter(classifierReturning: 2)  // NETKIT_DROP
        try pair.left.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            let device = try netlink.device(index: pair.nearIndex)
            #expect(device.kind == "netkit")
            #expect(device.isNetkitPrimary == true)
        }
        let rightEnd = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        let leftEnd = try pair.left.run { try UDPEndpoint(address: ScratchPair.leftAddress) }
        try pair.left.run {
            // Both programs attach through the primary device, in the primary's namespace.
            let primaryLink = try Netkit.attach(program: primary.program, interfaceIndex: pair.nearIndex, attachType: .netkitPrimary)
            let peerLink = try Netkit.attach(program: peer.program, interfaceIndex: pair.nearIndex, attachType: .netkitPeer)
            leftEnd.send(3, to: ScratchPair.rightAddress, port: rightEnd.port)
            #expect(rightEnd.receive(expecting: 3) == 3)
            rightEnd.send(2, to: ScratchPair.leftAddress, port: leftEnd.port)
            #expect(leftEnd.receive(expecting: 2) == 2)
            #expect(try primary.count() == 3, "the primary's program sees what leaves through the primary")
            #expect(try peer.count() == 2, "the peer's program sees what leaves through the peer")

            try peerLink.update(program: dropper.program)
            rightEnd.send(2, to: ScratchPair.leftAddress, port: leftEnd.port)
            #expect(leftEnd.receive(expecting: 0) == 0)
            #expect(try dropper.count() == 2)
            try primaryLink.close()
            try peerLink.close()
            #expect(try ProgramQuery.query(interfaceIndex: pair.nearIndex, attachType: .netkitPrimary).programs.isEmpty)
        }
    }

    @Test func linkInfoNamesTheDeviceAndSide() throws {
        guard KernelFeature.netkit.check() else { return }
        let pair = try ScratchPair(netkit: NetkitOptions(mode: .layer3), nearName: "nl19near", farName: "nl19far")
        let program = try trivialProgram(type: .schedCls)
        try pair.left.run {
            let primaryLink = try Netkit.attach(program: program, interfaceIndex: pair.nearIndex, attachType: .netkitPrimary)
            defer { try? primaryLink.close() }
            let peerLink = try Netkit.attach(program: program, interfaceIndex: pair.nearIndex, attachType: .netkitPeer)
            defer { try? peerLink.close() }
            let primary = try primaryLink.describe()
            #expect(primary.type == .netkit)
            #expect(primary.programID == (try program.info().id))
            #expect(primary.details == .netkit(ifindex: pair.nearIndex, attachType: .netkitPrimary))
            // Both sides attach through the primary device; the attach type tells them apart.
            #expect(try peerLink.describe().details == .netkit(ifindex: pair.nearIndex, attachType: .netkitPeer))
        }
    }
}

/// Where the kernel has no netkit, creating a pair fails with the kernel's own words.
@Suite(
    "netkit pair creation without netkit", .checksFileDescriptorLeaks, .lacks(.netkit),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces"))
struct NetkitMissingNetlinkTests {
    @Test func createSaysUnknownDeviceType() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            #expect {
                try netlink.createNetkitPair(name: "nl17nk0", peerName: "nl17nk1")
            } throws: { error in
                guard let error = error as? NetlinkError else { return false }
                return error.errno == .notSupported && error.kernelMessage == "Unknown device type"
            }
        }
    }
}
