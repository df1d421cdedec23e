import EBPFCollection
import EBPFNetlink
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// The network attach paths with each system call failing in turn (socket, setsockopt, bind, sendto,
/// recv; bpf where the path makes one): a typed error, no descriptor left open, and nothing left
/// in the kernel (no clsact qdisc, tc filter, XDP program or device the failed call left behind).
/// A failed recv loses the reply to a request the kernel already carried out, so these sweeps
/// also check the undo of requests whose outcome is unknown. Each test works in a scratch network
/// namespace of its own, on its loopback device or on devices it names itself.
@Suite(
    "Network attach fault injection (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces, tc and XDP"))
struct NetworkFaultInjectionTests {
    /// `lo`, which every network namespace has at index 1.
    static let loopback: UInt32 = 1

    /// A failure is a ``LinkError`` or ``NetlinkError`` naming the injected errno; `EINTR` on a
    /// call the library retries (sendto, recv, bpf) does not fail the operation.
    static func checkError(_ outcome: FaultInjection.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        outcome.expectInterruptRetried(
            where: {
                switch $0 {
                case .send, .receive, .bpf: true
                default: false
                }
            }, sourceLocation: sourceLocation)
        guard case .failure(let error) = outcome.result else { return }
        let text: String
        switch error {
        case let linkError as LinkError: text = linkError.description
        case let netlinkError as NetlinkError: text = netlinkError.description
        default:
            Issue.record("\(outcome.fault): threw \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(text.contains(outcome.fault.errno.description), "\(outcome.fault): \(text)", sourceLocation: sourceLocation)
    }

    /// What tc has on `interfaceIndex` of the namespace: the filters of both clsact hooks and
    /// whether a clsact qdisc is there.
    static func trafficControl(in namespace: ScratchNetworkNamespace, interfaceIndex: UInt32) throws
        -> (filters: [TrafficControlFilter], clsact: Bool)
    {
        try namespace.run {
            let netlink = try NetlinkSocket()
            defer { netlink.close() }
            let filters = try ClsactHook.allCases.flatMap { try netlink.filters(interfaceIndex: interfaceIndex, hook: $0) }
            return (filters, try netlink.qdiscs(interfaceIndex: interfaceIndex).contains { $0.kind == "clsact" })
        }
    }

    @Test("tc through netlink: every call failing in turn, with and without a clsact qdisc there before", arguments: [false, true])
    func tcSweep(qdiscBefore: Bool) async throws {
        let namespace = try ScratchNetworkNamespace()
        let classifier = try IPv4Counter(classifierReturning: 0)
        let program = classifier.program
        if qdiscBefore {
            try namespace.run {
                let netlink = try NetlinkSocket()
                defer { netlink.close() }
                try netlink.addClsactQdisc(interfaceIndex: Self.loopback)
            }
        }
        // With a qdisc there, the filter goes to egress at a position of the test's choosing.
        let hook: ClsactHook = qdiscBefore ? .egress : .ingress
        let options = qdiscBefore ? TCNetlink.Options(handle: 16, priority: 7) : TCNetlink.Options()
        let summary = try await FaultInjection.sweep {
            try namespace.run { try TCNetlink.attach(program: program, interfaceIndex: Self.loopback, hook: hook, options: options) }
        } release: { filter in
            #expect(filter.createdQdisc == !qdiscBefore)
            try filter.close()
        } check: { outcome in
            Self.checkError(outcome)
            let left = try Self.trafficControl(in: namespace, interfaceIndex: Self.loopback)
            #expect(left.filters.isEmpty, "\(outcome.fault): filters left: \(left.filters)")
            #expect(left.clsact == qdiscBefore, "\(outcome.fault): clsact qdisc there: \(left.clsact)")
        }
        #expect(summary.calls.contains(.socket(family: AF_NETLINK)), "\(summary)")
        #expect(summary.calls.contains(.receive(flags: 0)), "\(summary)")
        // iproute2 agrees that nothing is left.
        try namespace.run {
            if let listing = try iproute2Listing(device: "lo") {
                #expect(listing.filters.isEmpty, "tc filter show: \(listing.filters)")
                #expect(listing.qdiscs.contains("clsact") == qdiscBefore, "tc qdisc show: \(listing.qdiscs)")
            }
        }
    }

    @Test("XDP through netlink: every call failing in turn")
    func xdpSweep() async throws {
        let namespace = try ScratchNetworkNamespace()
        let counter = try IPv4Counter(xdpReturning: 2)
        let program = counter.program
        let summary = try await FaultInjection.sweep {
            try namespace.run { try XDPNetlink.attach(program: program, interfaceIndex: Self.loopback, mode: .generic) }
        } release: { attachment in
            #expect(attachment.attachedState.genericProgramID != nil)
            try attachment.close()
        } check: { outcome in
            Self.checkError(outcome)
            let state = try namespace.run { try XDPNetlink.query(interfaceIndex: Self.loopback) }
            #expect(state == XDPState(), "\(outcome.fault): XDP left on lo: \(state)")
        }
        #expect(summary.calls.contains(.bind), "\(summary)")
    }

    @Test("XDP through netlink replacing an expected program: every call failing in turn leaves that program")
    func xdpReplaceSweep() async throws {
        let namespace = try ScratchNetworkNamespace()
        let previous = try IPv4Counter(xdpReturning: 2)
        let counter = try IPv4Counter(xdpReturning: 2)
        let program = counter.program
        let previousProgram = previous.program
        let previousID = try previousProgram.info().id
        // The previous program is attached with a bare request, so that no attachment object
        // holds a socket across the sweep's leak checks.
        let setPrevious = { (attach: Bool) throws in
            try namespace.run {
                let netlink = try NetlinkSocket()
                defer { netlink.close() }
                let number = attach ? previousProgram.withFileDescriptorValue { $0 } ?? -1 : -1
                try netlink.setXDP(interfaceIndex: Self.loopback, programDescriptor: number, flags: XDP.Mode.generic.rawValue)
            }
        }
        try setPrevious(true)
        try await FaultInjection.sweep {
            try namespace.run {
                try XDPNetlink.attach(
                    program: program, interfaceIndex: Self.loopback, mode: .generic, expecting: .program(previousProgram))
            }
        } release: { attachment in
            try attachment.close()
            try setPrevious(true)
        } check: { outcome in
            Self.checkError(outcome)
            let state = try namespace.run { try XDPNetlink.query(interfaceIndex: Self.loopback) }
            #expect(state.genericProgramID == previousID, "\(outcome.fault): XDP on lo: \(state)")
        }
        try setPrevious(false)
        let state = try namespace.run { try XDPNetlink.query(interfaceIndex: Self.loopback) }
        #expect(state == XDPState())
    }

    @Test("veth pair creation: every call failing in turn leaves no device")
    func vethSweep() async throws {
        let namespace = try ScratchNetworkNamespace()
        try await Self.deviceSweep(in: namespace) { netlink in
            try netlink.createVethPair(name: "i16near", peerName: "i16far")
        }
    }

    @Test("netkit pair creation: every call failing in turn leaves no device", .requires(.netkit))
    func netkitSweep() async throws {
        guard KernelFeature.netkit.check() else { return }
        let namespace = try ScratchNetworkNamespace()
        try await Self.deviceSweep(in: namespace) { netlink in
            try netlink.createNetkitPair(name: "i16near", peerName: "i16far")
        }
    }

    /// Sweeps opening a netlink socket and `create` with it; afterwards neither end may exist.
    static func deviceSweep(
        in namespace: ScratchNetworkNamespace, sourceLocation: SourceLocation = #_sourceLocation,
        _ create: @escaping (NetlinkSocket) throws -> Void
    ) async throws {
        let summary = try await FaultInjection.sweep(sourceLocation: sourceLocation) {
            try namespace.run {
                let netlink = try NetlinkSocket()
                defer { netlink.close() }
                try create(netlink)
            }
        } release: {
            try namespace.run {
                let netlink = try NetlinkSocket()
                defer { netlink.close() }
                try netlink.deleteDevice(index: try netlink.device(named: "i16near").index)
            }
        } check: { outcome in
            checkError(outcome, sourceLocation: sourceLocation)
            let names = try namespace.run {
                let netlink = try NetlinkSocket()
                defer { netlink.close() }
                return try netlink.devices().map(\.name)
            }
            #expect(names == ["lo"], "\(outcome.fault): devices \(names)", sourceLocation: sourceLocation)
        }
        #expect(summary.calls.contains(.send), "\(summary)", sourceLocation: sourceLocation)
    }

    /// A cgroup of its own under the cgroup2 mount, removed by the caller.
    static func scratchCgroup() throws -> String {
        let own = try #require(ownCgroupPath(), "no cgroup v2 entry in /proc/self/cgroup")
        let path = own + "/issue16_faults_\(getpid())"
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw LinkError.system(operation: "mkdir \(path)", errno: Errno(rawValue: errno))
        }
        return path
    }

    @Test("cgroup link and legacy attach: every call failing in turn (open of the cgroup, attach)", arguments: [false, true])
    func cgroupSweep(legacy: Bool) async throws {
        let path = try Self.scratchCgroup()
        defer { rmdir(path) }
        let counter = try Counter(type: .cgroupSKB, returning: 1)
        let program = counter.program
        let summary = try await FaultInjection.sweep { () throws -> any Link in
            if legacy { return try Cgroup.attachLegacy(path: path, attachType: .cgroupINetEgress, program: program) }
            return try Cgroup.attach(path: path, attachType: .cgroupINetEgress, program: program)
        } release: { link in
            try link.close()
        } check: { outcome in
            Self.checkError(outcome)
            let attached = try ProgramQuery.query(cgroupPath: path, attachType: .cgroupINetEgress)
            #expect(attached.programs.isEmpty, "\(outcome.fault): programs left on the cgroup: \(attached.programs)")
        }
        #expect(summary.calls.contains(.open(path: path)), "\(summary)")
    }

    @Test("network namespace link: every call failing in turn (open of the namespace, link)")
    func networkNamespaceSweep() async throws {
        let namespace = try ScratchNetworkNamespace()
        let dissector = try Counter(type: .flowDissector, expectedAttachType: .flowDissector, returning: 0)
        let program = dissector.program
        let summary = try await FaultInjection.sweep {
            try NetNS.attach(program: program, namespacePath: namespace.path)
        } release: { link in
            try link.close()
        } check: { outcome in
            Self.checkError(outcome)
            let attached = try ProgramQuery.query(namespacePath: namespace.path, attachType: .flowDissector)
            #expect(attached.programs.isEmpty, "\(outcome.fault): programs left on the namespace: \(attached.programs)")
        }
        #expect(summary.calls.contains(.open(path: namespace.path)), "\(summary)")
    }

    /// The legacy socket map attach keeps a duplicate of the map and of the program for its
    /// detach: each duplicate and the attach failing in turn.
    @Test("socket map legacy attach: every call failing in turn (the two duplicates, the attach)")
    func socketMapSweep() async throws {
        let map = try Map(spec: MapSpec(name: "i16_sockets", type: .sockmap, keySize: 4, valueSize: 4, maxEntries: 2))
        defer { try? map.close() }
        let verdict = try Counter(type: .skSKB, returning: 1)
        let program = verdict.program
        let summary = try await FaultInjection.sweep {
            try SocketMap.attach(program: program, map: map, attachType: .skSKBStreamVerdict)
        } release: { attachment in
            try attachment.close()
        } check: { outcome in
            Self.checkError(outcome)
            let attached = try ProgramQuery.query(map: map, attachType: .skSKBStreamVerdict)
            #expect(attached.programs.isEmpty, "\(outcome.fault): programs left on the map: \(attached.programs)")
        }
        #expect(summary.calls.filter { $0 == .duplicate }.count == 2, "\(summary)")
    }
}
