import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// The inode number of `path` (a cgroup's ID, a network namespace's inode).
private func inode(of path: String) -> UInt64 {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0 }
    return UInt64(status.st_ino)
}

@Suite(
    "link info decoded per link type (root)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for links and network namespaces"))
struct LinkDetailsTests {
    init() {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        }
    }

    @Test func rawTracepointNameAndCookie() throws {
        let program = try trivialProgram(type: .rawTracepoint)
        // Without a cookie: only newer kernels report a raw tracepoint's (the host's 6.18 does,
        // the 6.12 VM shows 0); perf event cookies are checked with the tracepoint below.
        let link = try RawTracepoint.attach(name: "sys_enter", program: program)
        let description = try link.describe()
        #expect(description.type == .rawTracepoint)
        #expect(description.programID == (try program.info().id))
        #expect(description.details == .rawTracepoint(name: "sys_enter", cookie: 0))
        // Opened by ID, the same.
        #expect(try LinkDescription(id: description.id) == description)
        #expect(try LinkDescription.allIDs().contains(description.id))
        try link.close()
        #expect(throws: BPFSyscallError.self) { try LinkDescription(id: description.id) }
    }

    @Test func tracepointPerfEventNameAndCookie() throws {
        let program = try trivialProgram(type: .tracepoint)
        let link = try Tracepoint(group: "syscalls", name: "sys_enter_getpid", program: program, cookie: 99)
        let description = try link.describe()
        #expect(description.type == .perfEvent)
        guard case .perfEvent(let event) = description.details else {
            Issue.record("not a perf event: \(description.details)")
            return
        }
        #expect(event.kind == .tracepoint)
        #expect(event.name == "sys_enter_getpid")
        #expect(event.cookie == 99)

        // Perf event links can be pinned now; the pin keeps the program attached after close.
        let path = "/sys/fs/bpf/swiftebpf_issue19_tp_\(getpid())"
        try link.pin(at: path)
        defer { unlink(path) }
        try link.close()
        let pinned = try PinnedObject(path: path)
        defer { pinned.close() }
        guard case .link(let reopened) = pinned else {
            Issue.record("pin holds \(pinned.kind), not a link")
            return
        }
        #expect(try reopened.describe().details == description.details)
        let entries = try PinnedObject.walk(directory: "/sys/fs/bpf").filter { $0.path == path }
        #expect(entries.map(\.kind) == [.link])
        #expect(entries.first?.id == description.id)
    }

    @Test func uprobePerfEventFileAndOffset() throws {
        let target = try Executable(path: try UprobeTarget.binary.get())
        let program = try trivialProgram(type: .kprobe)
        var options = ProbeOptions()
        options.cookie = 5
        let probe = try Uprobe(executable: target, symbol: "counted", program: program, options: options)
        defer { try? probe.close() }
        // Perf event links (Linux 5.15) are expected on every test kernel (TestKernel.perfEventLinks).
        guard KernelFeature.perfEventLinks.check() else { return }
        try #require(probe.usesBPFLink && !probe.usesTracefs, "the uprobe is not attached through a perf event link")
        let description = try probe.describe()
        guard case .perfEvent(let event) = description.details else {
            Issue.record("not a perf event: \(description.details)")
            return
        }
        #expect(event.kind == .uprobe)
        #expect(event.name == target.path)
        #expect(event.offset == probe.offset)
        #expect(event.cookie == 5)
    }

    @Test func uprobeMultiPathOffsetsAndCookies() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.binary.get())
        let program = try trivialProgram(type: .kprobe, expectedAttachType: .traceUprobeMulti)
        let link = try UprobeMulti.attach(executable: target, symbols: ["counted"], program: program, cookies: [77])
        defer { try? link.close() }
        let description = try link.describe()
        guard case .uprobeMulti(let multi) = description.details else {
            Issue.record("not uprobe.multi: \(description.details)")
            return
        }
        #expect(multi.path == target.path)
        #expect(multi.offsets == [try target.offset(of: "counted")])
        #expect(multi.cookies == [77])
        #expect(!multi.isReturnProbe)
    }

    @Test func cgroupIDAndAttachType() throws {
        let own = try #require(ownCgroupPath(), "the cgroup v2 hierarchy")
        // The cgroup2 mount point: the own path minus the process's relative part.
        let mount = try #require(readFile("/proc/self/cgroup").flatMap { bytes -> String? in
            let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("0::") }
            guard let relative = line?.dropFirst(3) else { return nil }
            return relative == "/" ? own : String(own.dropLast(relative.count))
        })
        let path = mount + "/swiftebpf_issue19_\(getpid())"
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            Issue.record("mkdir \(path): errno \(errno)")
            return
        }
        defer { rmdir(path) }
        let program = try trivialProgram(type: .cgroupSKB, expectedAttachType: .cgroupINetIngress)
        let link = try Cgroup.attach(path: path, attachType: .cgroupINetIngress, program: program)
        defer { try? link.close() }
        #expect(try link.describe().details == .cgroup(cgroupID: inode(of: path), attachType: .cgroupINetIngress))
    }

    @Test func networkLinksNameTheirInterfaceAndNamespace() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let loopback = try NetworkInterface.index(of: "lo")
            let xdpProgram = try trivialProgram(type: .xdp, expectedAttachType: .xdp)
            let xdp = try XDP.attach(interfaceIndex: loopback, program: xdpProgram, mode: .generic)
            defer { try? xdp.close() }
            #expect(try xdp.describe().details == .xdp(ifindex: loopback))

            let lookup = try trivialProgram(type: .skLookup, expectedAttachType: .skLookup)
            let netns = try NetNS.attach(program: lookup, namespacePath: "/proc/thread-self/ns/net")
            defer { try? netns.close() }
            #expect(
                try netns.describe().details
                    == .netns(inode: UInt32(truncatingIfNeeded: inode(of: "/proc/thread-self/ns/net")), attachType: .skLookup))

            if KernelFeature.tcx.check() {
                let classifier = try trivialProgram(type: .schedCls, expectedAttachType: .tcxIngress)
                let tcx = try TCX.attach(program: classifier, interfaceIndex: loopback, attachType: .tcxIngress)
                defer { try? tcx.close() }
                #expect(try tcx.describe().details == .tcx(ifindex: loopback, attachType: .tcxIngress))
            }

            if KernelFeature.netfilterLinks.check() {
                // Returns 0 (NF_DROP), harmless in the scratch namespace.
                let filter = try trivialProgram(type: .netfilter, expectedAttachType: .netfilter)
                let netfilter = try Netfilter.attach(program: filter, protocolFamily: .ipv4, hook: .localIn, priority: -90)
                defer { try? netfilter.close() }
                #expect(
                    try netfilter.describe().details
                        == .netfilter(
                            protocolFamily: Netfilter.ProtocolFamily.ipv4.rawValue, hook: Netfilter.Hook.localIn.rawValue,
                            priority: -90, flags: 0))
            }
        }
    }

    @Test func socketMapLinkNamesItsMap() throws {
        if KernelFeature.socketMapLinks.check() {
            let map = try SocketMapTests.socketMap()
            defer { try? map.close() }
            let verdict = try trivialProgram(type: .skSKB)
            let link = try SocketMap.link(program: verdict, map: map, attachType: .skSKBVerdict)
            defer { try? link.close() }
            #expect(try link.describe().details == .sockmap(mapID: try map.info().id, attachType: .skSKBVerdict))
        }
    }

    @Test func pinOfAnUnknownKindIsATypedError() throws {
        #expect(throws: PinError.self) { try PinnedObject(path: "/sys/fs/bpf/swiftebpf_issue19_missing") }
        #expect(throws: PinError.self) { try PinnedObject.walk(directory: "/nonexistent/swiftebpf_issue19") }
    }
}

/// The VM tier: tracing links need fentry (refused on the host).
@Suite(
    "tracing link info (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.tracingPrograms),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct TracingLinkDetailsTests {
    @Test func tracingTargetIsTheFunctionsBTFType() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
        let program = try TracingTests.loadCounter(attachType: .traceFEntry, map: map, thread: currentThreadID())
        let link = try Tracing.attach(program: program, attachType: .traceFEntry)
        defer { try? link.close() }
        guard case .tracing(let attachType, let objectID, let btfID, _) = try link.describe().details else {
            Issue.record("not a tracing link")
            return
        }
        #expect(attachType == .traceFEntry)
        #expect(btfID == (try KernelBTF.functionID(named: "__task_pid_nr_ns")))
        // The program reports the same target.
        let info = try program.info()
        #expect(info.attachBTFTypeID == btfID)
        #expect(objectID == 0 || info.attachBTFObjectID == objectID)
    }

    @Test func mapIteratorTargetAndMap() throws {
        let map = try Map(spec: MapSpec(name: "i19_iter", type: .hash, keySize: 4, valueSize: 4, maxEntries: 4))
        defer { try? map.close() }
        let iterator = try Iterator(program: try IteratorTests.loadKeyWriter(), map: map)
        defer { try? iterator.close() }
        let description = try iterator.link.describe()
        #expect(description.type == .iter)
        #expect(description.details == .iterator(target: "bpf_map_elem", mapID: try map.info().id, cgroupID: 0, order: 0))
    }
}

/// Kernel addresses of `/proc/kallsyms` by name, for the given names.
private func kernelAddresses(of names: Set<String>) -> [String: UInt64] {
    guard let bytes = readFile("/proc/kallsyms") else { return [:] }
    var result: [String: UInt64] = [:]
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let words = line.split(separator: " ")
        guard words.count >= 3, names.contains(String(words[2])), let address = UInt64(words[0], radix: 16) else { continue }
        if result[String(words[2])] == nil { result[String(words[2])] = address }
    }
    return result
}

/// The VM tier: kprobe.multi needs CONFIG_FPROBE (6.12 VM).
@Suite(
    "kprobe.multi link info (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobeMulti),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeMultiLinkDetailsTests {
    @Test func addressesAndCookiesOfEachFunction() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let program = try trivialProgram(type: .kprobe, expectedAttachType: .traceKprobeMulti)
        let symbols = ["__task_pid_nr_ns", "vfs_read"]
        let link = try KprobeMulti.attach(symbols: symbols, program: program, mode: .return, cookies: [11, 22])
        defer { try? link.close() }
        let description = try link.describe()
        #expect(description.type == .kprobeMulti)
        guard case .kprobeMulti(let multi) = description.details else {
            Issue.record("not kprobe.multi: \(description.details)")
            return
        }
        #expect(multi.isReturnProbe)
        #expect(multi.addresses.count == 2)
        #expect(multi.cookies.count == 2)
        // The kernel sorts the functions by address and keeps each cookie with its function.
        let addresses = kernelAddresses(of: Set(symbols))
        let expected = Dictionary(uniqueKeysWithValues: [(addresses[symbols[0]], UInt64(11)), (addresses[symbols[1]], UInt64(22))]
            .compactMap { address, cookie in address.map { ($0, cookie) } })
        #expect(expected.count == 2, "both functions in /proc/kallsyms")
        #expect(Dictionary(uniqueKeysWithValues: zip(multi.addresses, multi.cookies)) == expected)
    }
}

/// The VM tier: the host kernel has no kprobes.
@Suite(
    "kprobe perf event link info (VM tier)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobes),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeLinkDetailsTests {
    /// A kprobe on `vfs_read` past its first instruction: on x86 that is `endbr64` (4 bytes) with
    /// indirect branch tracking or the 5-byte `__fentry__` call without it, so one of these offsets
    /// is an instruction boundary and the kernel refuses the other.
    private static func kprobePastEntry(program: Program, cookie: UInt64) throws -> (probe: Kprobe, offset: UInt64) {
        var refusals: [String] = []
        for offset: UInt64 in [4, 5] {
            var options = ProbeOptions()
            options.offset = offset
            options.cookie = cookie
            do {
                return (try Kprobe(symbol: "vfs_read", program: program, options: options), offset)
            } catch {
                refusals.append("+\(offset): \(error)")
            }
        }
        throw LinkError.invalidOption("no kprobe on vfs_read at +4 or +5: \(refusals.joined(separator: "; "))")
    }

    @Test("kprobe and kretprobe: function, offset, address, cookie", arguments: [false, true])
    func functionOffsetAddressAndKind(isReturnProbe: Bool) throws {
        guard KernelFeature.kprobes.check() else { return }
        let program = try trivialProgram(type: .kprobe)
        let probe: Kprobe
        var offset: UInt64 = 0
        if isReturnProbe {
            var options = ProbeOptions()
            options.cookie = 31
            probe = try Kprobe(symbol: "vfs_read", program: program, isReturnProbe: true, options: options)
        } else {
            (probe, offset) = try Self.kprobePastEntry(program: program, cookie: 31)
        }
        defer { try? probe.close() }
        #expect(probe.usesBPFLink)
        let description = try probe.describe()
        #expect(description.type == .perfEvent)
        #expect(description.programID == (try program.info().id))
        guard case .perfEvent(let event) = description.details else {
            Issue.record("not a perf event: \(description.details)")
            return
        }
        let reportsInfo = KernelFeature.perfEventLinkInfo.probe.present
        #expect(reportsInfo == TestKernel.current.expects(.perfEventLinkInfo))
        guard reportsInfo else {
            // Before Linux 6.6 perf event links have no fill_link_info: the union stays zero.
            #expect(event.kind == .unspecified)
            #expect(event.name.isEmpty && event.offset == 0 && event.address == 0 && event.cookie == 0)
            return
        }
        #expect(event.kind == (isReturnProbe ? .kretprobe : .kprobe))
        #expect(event.name == "vfs_read")
        #expect(event.offset == offset)
        // The probed address: the symbol's plus the offset, where kernel addresses may be shown
        // (x86 with indirect branch tracking moves an entry probe past `endbr64`, 4 bytes).
        if event.address != 0 {
            let symbol = try #require(kernelAddresses(of: ["vfs_read"])["vfs_read"], "vfs_read in /proc/kallsyms")
            #expect((symbol + event.offset...symbol + event.offset + 4).contains(event.address))
        }
        #expect(event.missed == 0)
        // Cookies in perf event link info: Linux 6.10 (the 6.12 VM).
        #expect(event.cookie == 31)
    }
}
