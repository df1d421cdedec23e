import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// `TCX_NEXT`: a tcx program's verdict that lets the next program in the list run.
private let tcxNext: Int32 = -1

@Suite(
    "tcx links with anchors and queries", .serialized, .checksFileDescriptorLeaks, .requires(.tcx),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and tcx"))
struct TCXTests {
    @Test func countsPacketsInAnchoredOrder() throws {
        guard KernelFeature.tcx.check() else { return }
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let udp = try LoopbackUDP()
            let middle = try Counter(type: .schedCls, returning: tcxNext)
            let first = try Counter(type: .schedCls, returning: tcxNext)
            let last = try Counter(type: .schedCls, returning: tcxNext)
            let middleLink = try TCX.attach(program: middle.program, interfaceName: "lo", attachType: .tcxIngress)
            let afterOne = try ProgramQuery.query(interfaceName: "lo", attachType: .tcxIngress)
            let firstLink = try TCX.attach(
                program: first.program, interfaceName: "lo", attachType: .tcxIngress, anchor: .beforeLink(middleLink),
                expectedRevision: afterOne.revision)
            let lastLink = try TCX.attach(
                program: last.program, interfaceName: "lo", attachType: .tcxIngress,
                anchor: .afterProgram(middle.program))

            let attached = try ProgramQuery.query(interfaceName: "lo", attachType: .tcxIngress)
            let expectedIDs = [try first.program.info().id, try middle.program.info().id, try last.program.info().id]
            #expect(attached.programs.map(\.programID) == expectedIDs)
            let linkIDs = try [firstLink, middleLink, lastLink].map { try $0.info().id }
            #expect(attached.programs.map(\.linkID) == linkIDs)
            #expect(attached.revision == afterOne.revision + 2)

            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try first.count() == 1)
            #expect(try middle.count() == 1)
            #expect(try last.count() == 1)

            // A revision that is no longer current: the kernel refuses with ESTALE.
            let stale = try Counter(type: .schedCls, returning: tcxNext)
            #expect {
                try TCX.attach(
                    program: stale.program, interfaceName: "lo", attachType: .tcxIngress, anchor: .head,
                    expectedRevision: afterOne.revision)
            } throws: { error in
                guard case .syscall(_, let syscallError) = error as? LinkError else { return false }
                return syscallError.errno == Errno(rawValue: ESTALE)
            }
            let info = try firstLink.info()
            #expect(info.type == 11)  // BPF_LINK_TYPE_TCX
            #expect(info.extra(as: TCXLinkInfo.self).ifindex == if_nametoindex("lo"))
            #expect(info.extra(as: TCXLinkInfo.self).attachType == AttachType.tcxIngress.rawValue)

            try middleLink.close()
            let remaining = try ProgramQuery.query(interfaceName: "lo", attachType: .tcxIngress)
            #expect(remaining.programs.map(\.programID) == [expectedIDs[0], expectedIDs[2]])
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try middle.count() == 1)
            #expect(try last.count() == 2)
            try firstLink.close()
            try lastLink.close()
            #expect(try ProgramQuery.query(interfaceName: "lo", attachType: .tcxIngress).programs.isEmpty)
        }
    }

    @Test func egressDropsAndUpdates() throws {
        guard KernelFeature.tcx.check() else { return }
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let udp = try LoopbackUDP()
            let dropper = try Counter(type: .schedCls, returning: 2)  // TCX_DROP
            let passer = try Counter(type: .schedCls, returning: 0)  // TCX_PASS
            let link = try TCX.attach(program: dropper.program, interfaceName: "lo", attachType: .tcxEgress, anchor: .head)
            udp.send()
            do { let got = udp.received(); #expect(!got, "the egress program drops the datagram") }
            #expect(try dropper.count() == 1)
            try link.update(program: passer.program)
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try passer.count() == 1)
            #expect(try dropper.count() == 1)
            try link.close()
        }
    }

    @Test func pinnedAndOpenedByID() throws {
        guard KernelFeature.tcx.check() else { return }
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let udp = try LoopbackUDP()
            let counter = try Counter(type: .schedCls, returning: 0)
            let link = try TCX.attach(program: counter.program, interfaceName: "lo", attachType: .tcxIngress)
            let path = "/sys/fs/bpf/swift_ebpf_tcx_\(getpid())"
            try link.pin(at: path)
            defer { unlink(path) }
            let linkID = try link.info().id
            try link.close()
            // The pin keeps the program attached after the last descriptor closed.
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try counter.count() == 1)
            let pinned = try RawLink(pinnedAt: path)
            let byID = try RawLink(id: linkID)
            #expect(try pinned.info().id == linkID)
            #expect(try byID.info().extra(as: TCXLinkInfo.self).attachType == AttachType.tcxIngress.rawValue)
            try byID.detach()
            #expect(try ProgramQuery.query(interfaceName: "lo", attachType: .tcxIngress).programs.isEmpty)
            udp.send()
            do { let got = udp.received(); #expect(got) }
            #expect(try counter.count() == 1, "the detached link no longer runs the program")
            try pinned.close()
            try byID.close()
        }
    }

    @Test func typedErrors() throws {
        let counter = try Counter(type: .schedCls, returning: 0)
        #expect {
            try TCX.attach(program: counter.program, interfaceName: "no-such-if0", attachType: .tcxIngress)
        } throws: { error in
            guard case .interfaceNotFound(let name) = error as? LinkError else { return false }
            return name == "no-such-if0"
        }
        #expect {
            try TCX.attach(program: counter.program, interfaceName: "lo", attachType: .xdp)
        } throws: { error in
            guard case .invalidOption = error as? LinkError else { return false }
            return true
        }
        let xdp = try trivialProgram(type: .xdp)
        #expect {
            try TCX.attach(program: xdp, interfaceName: "lo", attachType: .tcxIngress)
        } throws: { error in
            guard case .wrongProgramType(_, let expected, let actual) = error as? LinkError else { return false }
            return expected == [.schedCls] && actual == .xdp
        }
    }
}

@Suite(
    "tcx not supported", .checksFileDescriptorLeaks, .lacks(.tcx),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct TCXNotSupportedTests {
    @Test func attachSaysTCXIsMissing() throws {
        let counter = try Counter(type: .schedCls, returning: 0)
        #expect {
            try TCX.attach(program: counter.program, interfaceName: "lo", attachType: .tcxIngress)
        } throws: { error in
            guard case .notSupported(let feature, let requirement, _) = error as? LinkError else { return false }
            return feature == "tcx" && requirement.contains("6.6")
        }
    }
}

@Suite(
    "netkit not supported", .checksFileDescriptorLeaks, .lacks(.netkit),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct NetkitNotSupportedTests {
    @Test func attachNamesConfigNetkit() throws {
        let counter = try Counter(type: .schedCls, returning: 0)
        for attachType in [AttachType.netkitPrimary, .netkitPeer] {
            #expect {
                try Netkit.attach(program: counter.program, interfaceName: "lo", attachType: attachType)
            } throws: { error in
                guard case .notSupported(let feature, let requirement, _) = error as? LinkError else { return false }
                return feature == "netkit" && requirement.contains("CONFIG_NETKIT")
            }
        }
        #expect {
            try ProgramQuery.query(interfaceName: "lo", attachType: .netkitPrimary)
        } throws: { error in
            guard case .notSupported(let feature, _, _) = error as? LinkError else { return false }
            return feature == "netkit"
        }
    }
}
