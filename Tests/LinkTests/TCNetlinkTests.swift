import EBPFCollection
import EBPFNetlink
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// tc through netlink on a veth pair between two scratch namespaces, with real datagrams. Runs on
/// the host and in the 6.1 VM (`Scripts/vm-test.sh ... Netlink`), where `cls_bpf`, `sch_ingress`
/// and `veth` are modules.
@Suite(
    "tc through netlink on a veth pair", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and tc"))
struct TCNetlinkTests {
    @Test func filterCountsReplacesDropsAndCleansUp() throws {
        let pair = try ScratchPair()
        let passer = try IPv4Counter(classifierReturning: 0)
        let dropper = try IPv4Counter(classifierReturning: 2)
        let receiver = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        let sender = try pair.left.run { try UDPEndpoint(address: ScratchPair.leftAddress) }

        try pair.right.run {
            let filter = try TCNetlink.attach(program: passer.program, interfaceName: pair.farName, hook: .ingress)
            #expect(filter.createdQdisc)
            #expect(filter.handle != 0 && filter.priority != 0, "the kernel chose a handle and a priority")
            let programInfo = try passer.program.info()
            #expect(filter.programID == programInfo.id)
            let queried = try filter.query()
            #expect(queried.programID == programInfo.id)
            #expect(queried.programTag.map { $0.map { String($0, radix: 16).leftPadded(to: 2) }.joined() } == programInfo.tag)
            #expect(queried.isDirectAction)
            #expect(queried.programName == "nl17_ipv4")
            #expect(try TCNetlink.query(interfaceIndex: pair.farIndex, hook: .ingress).map(\.programID) == [programInfo.id])
            if let listing = try iproute2Listing(device: pair.farName) {
                #expect(listing.filters.contains("nl17_ipv4"), "tc filter show sees the filter: \(listing.filters)")
                #expect(listing.qdiscs.contains("clsact"), "tc qdisc show: \(listing.qdiscs)")
            }

            sender.send(3, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 3) == 3)
            #expect(try passer.count() == 3)

            // The same handle and priority again without replace: the kernel refuses (NLM_F_EXCL).
            let options = TCNetlink.Options(handle: filter.handle, priority: filter.priority)
            #expect {
                try TCNetlink.attach(program: dropper.program, interfaceIndex: pair.farIndex, hook: .ingress, options: options)
            } throws: { error in
                guard case .attachPointBusy(_, let detail) = error as? LinkError else { return false }
                return detail.contains("kernel:")
            }

            try filter.replace(program: dropper.program)
            #expect(filter.programID == (try dropper.program.info().id))
            sender.send(2, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 0) == 0, "the replacement drops every datagram")
            #expect(try dropper.count() == 2)
            #expect(try passer.count() == 3)

            try filter.close()
            #expect(filter.isClosed)
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            for hook in ClsactHook.allCases {
                #expect(try netlink.filters(interfaceIndex: pair.farIndex, hook: hook).isEmpty)
            }
            #expect(try !netlink.qdiscs(interfaceIndex: pair.farIndex).contains { $0.kind == "clsact" })
            if let listing = try iproute2Listing(device: pair.farName) {
                #expect(listing.filters.isEmpty, "tc filter show: \(listing.filters)")
                #expect(!listing.qdiscs.contains("clsact"), "tc qdisc show: \(listing.qdiscs)")
            }
            sender.send(1, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 1) == 1)
        }
    }

    @Test func egressFilterLeavesAQdiscItDidNotCreate() throws {
        let pair = try ScratchPair()
        let dropper = try IPv4Counter(classifierReturning: 2)
        let receiver = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        try pair.left.run {
            let sender = try UDPEndpoint(address: ScratchPair.leftAddress)
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            try netlink.addClsactQdisc(interfaceIndex: pair.nearIndex)
            let filter = try TCNetlink.attach(
                program: dropper.program, interfaceIndex: pair.nearIndex, hook: .egress,
                options: TCNetlink.Options(handle: 7, priority: 3))
            #expect(!filter.createdQdisc)
            #expect(filter.handle == 7 && filter.priority == 3)
            sender.send(2, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 0) == 0)
            #expect(try dropper.count() == 2)
            try filter.close()
            #expect(try netlink.filters(interfaceIndex: pair.nearIndex, hook: .egress).isEmpty)
            #expect(try netlink.qdiscs(interfaceIndex: pair.nearIndex).contains { $0.kind == "clsact" }, "the qdisc was there before")
            try netlink.deleteClsactQdisc(interfaceIndex: pair.nearIndex)
        }
    }

    /// tcx where the kernel has it (the host), netlink where it does not (the 6.1 VM).
    @Test func automaticPicksTheMechanismAndDrops() throws {
        let pair = try ScratchPair()
        let dropper = try IPv4Counter(classifierReturning: 2)
        let receiver = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        let sender = try pair.left.run { try UDPEndpoint(address: ScratchPair.leftAddress) }
        try pair.right.run {
            let attachment = try TC.attach(program: dropper.program, interfaceName: pair.farName, direction: .ingress)
            let expected: TC.Mechanism = TestKernel.current.expects(.tcx) ? .tcx : .netlink
            #expect(attachment.mechanism == expected)
            #expect((attachment.tcxLink != nil) == (expected == .tcx))
            #expect((attachment.netlinkFilter != nil) == (expected == .netlink))
            sender.send(3, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 0) == 0)
            #expect(try dropper.count() == 3)
            try attachment.close()
            #expect(attachment.isClosed)
            sender.send(1, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 1) == 1)
            #expect(try dropper.count() == 3)
            #expect(try TCNetlink.query(interfaceIndex: pair.farIndex, hook: .ingress).isEmpty)
        }
    }

    @Test func typedErrors() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let counter = try IPv4Counter(classifierReturning: 0)
            #expect {
                try TCNetlink.attach(program: counter.program, interfaceName: "nl17-missing", hook: .ingress)
            } throws: { error in
                guard case .interfaceNotFound(let name) = error as? LinkError else { return false }
                return name == "nl17-missing"
            }
            #expect {
                try TCNetlink.attach(program: counter.program, interfaceIndex: 4242, hook: .ingress)
            } throws: { error in
                guard case .interfaceNotFound(let name) = error as? LinkError else { return false }
                return name == "index 4242"
            }
            let xdp = try IPv4Counter(xdpReturning: 2)
            #expect {
                try TC.attach(program: xdp.program, interfaceName: "lo", direction: .ingress, mechanism: .netlink)
            } throws: { error in
                guard case .wrongProgramType(_, let expected, let actual) = error as? LinkError else { return false }
                return expected == [.schedCls] && actual == .xdp
            }
            #expect {
                try TCNetlink.attach(
                    program: counter.program, interfaceName: "lo", hook: .ingress, options: TCNetlink.Options(replace: true))
            } throws: { error in
                guard case .invalidOption = error as? LinkError else { return false }
                return true
            }
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            #expect(try !netlink.qdiscs(interfaceIndex: 1).contains { $0.kind == "clsact" }, "failed attaches leave no qdisc")
        }
    }
}

/// The same veth traffic through a tcx link, where the kernel has tcx.
@Suite(
    "tc through tcx on a veth pair", .serialized, .checksFileDescriptorLeaks, .requires(.tcx),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and tcx"))
struct TCXVethTests {
    @Test func tcxCountsAndDrops() throws {
        guard KernelFeature.tcx.check() else { return }
        let pair = try ScratchPair()
        let passer = try IPv4Counter(classifierReturning: 0)
        let dropper = try IPv4Counter(classifierReturning: 2)
        let receiver = try pair.right.run { try UDPEndpoint(address: ScratchPair.rightAddress) }
        let sender = try pair.left.run { try UDPEndpoint(address: ScratchPair.leftAddress) }
        try pair.right.run {
            let attachment = try TC.attach(program: passer.program, interfaceName: pair.farName, direction: .ingress, mechanism: .tcx)
            #expect(attachment.mechanism == .tcx)
            sender.send(3, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 3) == 3)
            #expect(try passer.count() == 3)
            try attachment.tcxLink?.update(program: dropper.program)
            sender.send(2, to: ScratchPair.rightAddress, port: receiver.port)
            #expect(receiver.receive(expecting: 0) == 0)
            #expect(try dropper.count() == 2)
            try attachment.close()
            #expect(try ProgramQuery.query(interfaceIndex: pair.farIndex, attachType: .tcxIngress).programs.isEmpty)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
