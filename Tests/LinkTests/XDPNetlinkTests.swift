import EBPFCollection
import EBPFNetlink
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// XDP through netlink on a veth pair between two scratch namespaces, with real datagrams.
@Suite(
    "XDP through netlink on a veth pair", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and XDP"))
struct XDPNetlinkTests {
    @Test func genericModeDropsReplacesAndDetaches() throws {
        let pair = try ScratchPair()
        let dropper = try IPv4Counter(xdpReturning: 1)  // XDP_DROP
        let passer = try IPv4Counter(xdpReturning: 2)  // XDP_PASS
        let receiver = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        let sender = try pair.left.run { try UDPEndpoint(address: ScratchPair.leftAddress) }
        try pair.right.run {
            let attachment = try XDPNetlink.attach(program: dropper.program, interfaceName: pair.farName, mode: .generic)
            let dropperID = try dropper.program.info().id
            #expect(attachment.attachedState.attachedMode == 2)  // XDP_ATTACHED_SKB
            #expect(attachment.attachedState.genericProgramID == dropperID)
            #expect(try XDPNetlink.query(interfaceIndex: pair.farIndex).genericProgramID == dropperID)
            sender.send(3, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 0) == 0)
            #expect(try dropper.count() == 3)

            // Another attach that expects nothing there: the kernel refuses, with its text.
            #expect {
                try XDPNetlink.attach(program: passer.program, interfaceIndex: pair.farIndex, mode: .generic)
            } throws: { error in
                guard case .attachPointBusy(_, let detail) = error as? LinkError else { return false }
                return detail.contains("kernel:")
            }
            // Replacing a program that is not the attached one fails; replacing the attached one works.
            #expect {
                try XDPNetlink.attach(
                    program: passer.program, interfaceIndex: pair.farIndex, mode: .generic, expecting: .program(passer.program))
            } throws: { error in
                guard case .attachPointBusy = error as? LinkError else { return false }
                return true
            }
            let replacement = try XDPNetlink.attach(
                program: passer.program, interfaceIndex: pair.farIndex, mode: .generic, expecting: .program(dropper.program))
            #expect(replacement.attachedState.genericProgramID == (try passer.program.info().id))
            sender.send(2, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 2) == 2)
            #expect(try passer.count() == 2)

            // The first attachment's program is gone from the device: closing it leaves the replacement.
            try attachment.close()
            #expect(try XDPNetlink.query(interfaceIndex: pair.farIndex).genericProgramID == (try passer.program.info().id))
            try replacement.close()
            let state = try XDPNetlink.query(interfaceIndex: pair.farIndex)
            #expect(state.attachedMode == 0 && state.genericProgramID == nil)
            sender.send(1, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 1) == 1)
            #expect(try passer.count() == 2)
        }
    }

    @Test func automaticUsesTheLinkAndNetlinkIsSelectable() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let counter = try IPv4Counter(xdpReturning: 2)
            let automatic = try XDP.attach(program: counter.program, interfaceName: "lo", mode: .generic, mechanism: .automatic)
            #expect(automatic.mechanism == .link, "every test kernel has XDP links (5.9)")
            #expect(automatic.link != nil)
            try automatic.close()
            let netlink = try XDP.attach(program: counter.program, interfaceName: "lo", mode: .generic, mechanism: .netlink)
            #expect(netlink.mechanism == .netlink)
            #expect(try netlink.netlinkAttachment?.query().genericProgramID == (try counter.program.info().id))
            #expect(throws: LinkError.self) { try netlink.info() }
            try netlink.close()
            #expect(try XDPNetlink.query(interfaceName: "lo").attachedMode == 0)
        }
    }

    @Test func typedErrors() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let counter = try IPv4Counter(xdpReturning: 2)
            // lo has no native XDP: the kernel says so in its extended ack.
            #expect {
                try XDPNetlink.attach(program: counter.program, interfaceName: "lo", mode: .driver)
            } throws: { error in
                guard case .notSupported(_, _, let detail) = error as? LinkError else { return false }
                return detail.localizedLowercase.contains("native")
            }
            #expect {
                try XDPNetlink.attach(program: counter.program, interfaceIndex: 4242, mode: .generic)
            } throws: { error in
                guard case .interfaceNotFound("index 4242") = error as? LinkError else { return false }
                return true
            }
            let classifier = try IPv4Counter(classifierReturning: 0)
            #expect {
                try XDPNetlink.attach(program: classifier.program, interfaceName: "lo", mode: .generic)
            } throws: { error in
                guard case .wrongProgramType(_, [.xdp], .schedCls) = error as? LinkError else { return false }
                return true
            }
            #expect(try XDPNetlink.query(interfaceName: "lo").attachedMode == 0)
        }
    }
}

extension String {
    fileprivate var localizedLowercase: String { lowercased() }
}

/// Devices through our netlink client: veth pairs across namespaces, moves, up and down, deletes.
@Suite(
    "network devices through netlink", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces"))
struct NetlinkDeviceTests {
    @Test func vethPairMoveUpAndDelete() throws {
        let first = try ScratchNetworkNamespace()
        let second = try ScratchNetworkNamespace()
        let secondDescriptor = second.descriptor
        try first.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            try netlink.createVethPair(name: "nl17v0", peerName: "nl17v1")
            let devices = try netlink.devices()
            let end0 = try #require(devices.first { $0.name == "nl17v0" })
            let end1 = try #require(devices.first { $0.name == "nl17v1" })
            #expect(end0.kind == "veth" && end1.kind == "veth")
            #expect(end0.linkIndex == end1.index && end1.linkIndex == end0.index)
            #expect(!end0.isUp)
            try netlink.setDevice(index: end0.index, up: true)
            #expect(try netlink.device(index: end0.index).isUp)
            #expect {
                try netlink.createVethPair(name: "nl17v0", peerName: "nl17v2")
            } throws: { error in
                (error as? NetlinkError)?.errno == .fileExists
            }
            try netlink.moveDevice(index: end1.index, toNamespaceDescriptor: secondDescriptor)
            #expect {
                try netlink.device(named: "nl17v1")
            } throws: { error in
                (error as? NetlinkError)?.errno == .noSuchDevice
            }
            try netlink.deleteDevice(index: end0.index)
            #expect(try !netlink.devices().contains { $0.name == "nl17v0" })
        }
        try second.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            #expect(try !netlink.devices().contains { $0.name == "nl17v1" }, "deleting one end deletes its peer")
        }
    }

    @Test func kernelErrorsCarryTheExtendedAck() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            #expect {
                try netlink.addIPv4Address([10, 117, 9, 1], prefixLength: 24, deviceIndex: 4242)
            } throws: { error in
                guard let error = error as? NetlinkError, case .kernel(let operation, _, _, _) = error else { return false }
                return operation.contains("10.117.9.1/24") && error.errno == .noSuchDevice
            }
            #expect(throws: NetlinkError.self) { try netlink.createVethPair(name: "", peerName: "x") }
            netlink.close()
            #expect(throws: NetlinkError.closed) { try netlink.devices() }
        }
    }
}
