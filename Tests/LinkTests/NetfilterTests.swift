import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite(
    "netfilter links", .serialized, .checksFileDescriptorLeaks, .requires(.netfilterLinks),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and netfilter"))
struct NetfilterTests {
    @Test func localInCountsThenDrops() throws {
        guard KernelFeature.netfilterLinks.check() else { return }
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let udp = try LoopbackUDP()
            let accepter = try Counter(type: .netfilter, expectedAttachType: .netfilter, returning: 1)  // NF_ACCEPT
            let link = try Netfilter.attach(
                program: accepter.program, protocolFamily: .ipv4, hook: .localIn, priority: -128)
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try accepter.count() == 1)
            let info = try link.info()
            #expect(info.type == 10)  // BPF_LINK_TYPE_NETFILTER
            let netfilter = info.extra(as: NetfilterLinkInfo.self)
            #expect(netfilter.pf == Netfilter.ProtocolFamily.ipv4.rawValue)
            #expect(netfilter.hooknum == Netfilter.Hook.localIn.rawValue)
            #expect(netfilter.priority == -128)

            let dropper = try Counter(type: .netfilter, expectedAttachType: .netfilter, returning: 0)  // NF_DROP
            let dropLink = try Netfilter.attach(
                program: dropper.program, protocolFamily: .ipv4, hook: .localIn, priority: -100)
            udp.send()
            do { let got = udp.received(); #expect(!got, "NF_DROP drops the datagram") }
            #expect(try dropper.count() == 1)
            try dropLink.close()
            try link.close()
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try accepter.count() == 2)
        }
    }

    @Test func reservedPriorityAndWrongType() throws {
        let program = try trivialProgram(type: .xdp)
        #expect {
            try Netfilter.attach(program: program, protocolFamily: .ipv4, hook: .localIn, priority: Int32.min)
        } throws: { error in
            guard case .invalidOption = error as? LinkError else { return false }
            return true
        }
        #expect {
            try Netfilter.attach(program: program, protocolFamily: .ipv4, hook: .localIn, priority: 0)
        } throws: { error in
            guard case .wrongProgramType(_, [.netfilter], .xdp) = error as? LinkError else { return false }
            return true
        }
    }
}
