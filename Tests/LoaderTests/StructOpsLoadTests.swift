import EBPFBTF
import EBPFELF
import EBPFLink
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFCollection

/// `TCP_CONGESTION`.
let tcpCongestionOption: Int32 = 13

/// The tcp_ca object with its table renamed to `name` (at most 15 bytes), so that parallel
/// runs and the Link tests' own table do not collide in the kernel's list of congestion controls.
func congestionControlSpec(named name: String) throws -> CollectionSpec {
    var spec = try testdataSpec("tcp_ca")
    var map = try #require(spec.maps["swift_ca"])
    guard case .bytes(var bytes)? = map.contents.first?.value else {
        throw StructOpsTestError.noInitialValue
    }
    // `name` is the first member of the object's struct (testdata/tcp_ca.c).
    let encoded = Array(name.utf8.prefix(15))
    for index in 0..<16 { bytes[index] = index < encoded.count ? encoded[index] : 0 }
    map.contents = [MapEntry(key: [0, 0, 0, 0], value: .bytes(bytes))]
    spec.maps["swift_ca"] = map
    return spec
}

/// The tcp_ca object with `member` of its table (a 4-byte member at `offset` of the object's
/// struct) set to `value`.
private func settingMember(at offset: Int, to value: UInt32, in spec: CollectionSpec) throws -> CollectionSpec {
    var spec = spec
    var map = try #require(spec.maps["swift_ca"])
    guard case .bytes(var bytes)? = map.contents.first?.value else { throw StructOpsTestError.noInitialValue }
    withUnsafeBytes(of: value) { for (index, byte) in $0.enumerated() { bytes[offset + index] = byte } }
    map.contents = [MapEntry(key: [0, 0, 0, 0], value: .bytes(bytes))]
    spec.maps["swift_ca"] = map
    return spec
}

private enum StructOpsTestError: Error { case noInitialValue }

/// The names in one of the `/proc/sys/net/ipv4/tcp_*_congestion_control` lists.
func congestionControls(_ list: String) -> [String] {
    guard let bytes = readFile("/proc/sys/net/ipv4/tcp_\(list)_congestion_control") else { return [] }
    return String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
}

/// A kernel BTF blob committed in testdata.
private func referenceKernel(_ version: String) throws -> BTFSpec {
    try BTFSpec(path: TestData.path("btf/vmlinux-\(version).btf"))
}

/// Tier 1: how struct_ops maps are laid out over the kernel's tables, against the committed BTF
/// of the reference kernels, and the errors found before any system call.
@Suite("struct_ops layout", .checksFileDescriptorLeaks)
struct StructOpsLayoutTests {
    private func layout(_ spec: CollectionSpec, kernel version: String) throws -> StructOpsLayout {
        let mapSpec = try #require(spec.maps["swift_ca"])
        let kernel = try #require(try StructOpsKernelType.find("tcp_congestion_ops", in: [(nil, try referenceKernel(version))]))
        return try StructOpsLayout(mapSpec: mapSpec, objectTypes: try #require(spec.types), kernel: kernel)
    }

    @Test func membersArePlacedByNameInTheKernelsTable() throws {
        let spec = try testdataSpec("tcp_ca")
        let layout = try layout(spec, kernel: "6.18")
        let kernel = try referenceKernel("6.18")
        #expect(layout.kernel.wrapperID == kernel.typeID(named: "bpf_struct_ops_tcp_congestion_ops", kind: .struct))
        #expect(layout.kernel.tableID == kernel.typeID(named: "tcp_congestion_ops", kind: .struct))
        #expect(layout.kernel.module == nil)
        #expect(layout.value.count == Int(layout.kernel.wrapperSize))
        // 6.18's table: ssthresh, cong_avoid, ..., undo_cwnd (8), ..., name (11), ..., flags (15), init (16).
        #expect(layout.slots.map(\.member) == ["ssthresh", "cong_avoid", "undo_cwnd", "init"])
        #expect(layout.slots.map(\.memberIndex) == [0, 1, 8, 16])
        #expect(layout.slots.map(\.program) == ["swift_ca_ssthresh", "swift_ca_avoid", "swift_ca_undo", "swift_ca_init"])

        let table = layout.kernel.table
        func offset(_ member: String) throws -> Int {
            let found = try #require(table.members.first(where: { $0.name == member }))
            return layout.kernel.tableOffset + Int(found.bitOffset / 8)
        }
        let name = try offset("name")
        #expect(Array(layout.value[name..<(name + 9)]) == Array("swift_ca".utf8) + [0])
        let flags = try offset("flags")
        #expect(Array(layout.value[flags..<(flags + 4)]) == [1, 0, 0, 0])
        // Only the name and the flags are data: everything else of the value is still zero.
        let nonZero = layout.value.indices.filter { layout.value[$0] != 0 }
        #expect(nonZero.allSatisfy { (name..<(name + 8)).contains($0) || $0 == flags })

        let filled = layout.value(descriptors: ["swift_ca_init": 0x1234, "swift_ca_undo": 7])
        let initSlot = try offset("init")
        #expect(Array(filled[initSlot..<(initSlot + 8)]) == [0x34, 0x12, 0, 0, 0, 0, 0, 0])
        let undoSlot = try offset("undo_cwnd")
        let ssthreshSlot = try offset("ssthresh")
        #expect(filled[undoSlot] == 7)
        #expect(filled[ssthreshSlot] == 0, "a program without a descriptor leaves its slot alone")
    }

    @Test func theTableIsFoundWhateverPrecedesItInTheWrapper() throws {
        // 6.1's wrapper starts with refcnt and state, 6.18's with a common value: the table is
        // the member whose type is the table struct, wherever it sits.
        func wrapperMembers(_ version: String) throws -> [String] {
            let kernel = try referenceKernel(version)
            let id = try #require(kernel.typeID(named: "bpf_struct_ops_tcp_congestion_ops", kind: .struct))
            guard case .struct(let wrapper) = try kernel.type(id) else { return [] }
            return wrapper.members.map(\.name).filter { !$0.isEmpty }
        }
        #expect(try wrapperMembers("6.1") == ["refcnt", "state", "data"])
        #expect(try wrapperMembers("6.18") == ["common", "data"])
        let spec = try testdataSpec("tcp_ca")
        let old = try layout(spec, kernel: "6.1")
        let new = try layout(spec, kernel: "6.18")
        #expect(old.slots == new.slots)
        #expect(old.value.count == Int(old.kernel.wrapperSize))
        for slot in old.slots {
            #expect(old.kernel.table.members[slot.memberIndex].name == slot.member)
        }
    }

    @Test func aMemberTheKernelLacksIsAnErrorOnlyWhenSet() throws {
        // not_in_kernel sits after name[16] and flags in the object's struct.
        let spec = try settingMember(at: 20, to: 5, in: try testdataSpec("tcp_ca"))
        let error = #expect(throws: StructOpsError.self) { try layout(spec, kernel: "6.18") }
        guard case .memberNotInKernel(let member, let table)? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(member == "not_in_kernel" && table == "tcp_congestion_ops" && error?.map == "swift_ca")
        #expect(error?.description.contains("not_in_kernel") == true)
    }

    @Test func aTableNoKernelHasIsNotFound() throws {
        #expect(try StructOpsKernelType.find("demo_ops", in: [(nil, try referenceKernel("6.18"))]) == nil)
    }

    @Test func flavourSuffixesAreDropped() {
        #expect(CollectionLoader.essentialName("tcp_congestion_ops___v2") == "tcp_congestion_ops")
        #expect(CollectionLoader.essentialName("tcp_congestion_ops") == "tcp_congestion_ops")
        #expect(CollectionLoader.essentialName("a___") == "a___")
    }

    @Test func aProgramMissingFromTheSpecIsNamed() throws {
        var spec = try testdataSpec("tcp_ca")
        spec.maps["swift_ca"]?.structOpsPrograms["init"] = "no_such_program"
        let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec) }
        guard case .structOps(let structOps)? = error?.reason, case .programNotFound(let member, let program) = structOps.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(member == "init" && program == "no_such_program" && error?.step == .map("swift_ca"))
    }
}

extension LoaderSuites {
    /// Tier 2: struct_ops maps created, filled and registered in the host kernel.
    @Suite(
        "struct_ops maps", .checksFileDescriptorLeaks, .requires(.structOpsLinks),
        .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
    struct StructOpsLoadTests {
        @Test func aCongestionControlRegistersThroughItsLinkAndRuns() throws {
            guard KernelFeature.structOpsLinks.check() else { return }
            let name = "swift_ca_\(getpid() % 100_000)"
            let collection = try LoadedCollection(spec: try congestionControlSpec(named: name))
            defer { collection.close() }
            let map = try collection.map("swift_ca")
            #expect(map.type == .structOps && map.flags.contains(.link))
            let kernelInfo = try map.info()
            #expect(kernelInfo.btfID != 0)
            #expect(!congestionControls("available").contains(name), "a BPF_F_LINK map registers only through a link")

            let link = try StructOps.attach(map: map)
            #expect(congestionControls("available").contains(name))
            // flags = TCP_CONG_NON_RESTRICTED came from the object's data, placed by name.
            #expect(congestionControls("allowed").contains(name))

            let (client, server) = try loopbackPair()
            defer {
                close(client)
                close(server)
            }
            let selected = Array(name.utf8)
            let status = setsockopt(client, Int32(IPPROTO_TCP), tcpCongestionOption, selected, socklen_t(selected.count))
            #expect(status == 0, "setsockopt TCP_CONGESTION \(name): errno \(errno)")
            var buffer = [UInt8](repeating: 0, count: 16)
            var length = socklen_t(buffer.count)
            #expect(getsockopt(client, Int32(IPPROTO_TCP), tcpCongestionOption, &buffer, &length) == 0)
            #expect(String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self) == name)
            #expect(try collection.variable("init_calls").get(as: UInt64.self) == 1, "init runs when the socket switches")

            try link.close()
            #expect(!congestionControls("available").contains(name))
        }

        @Test func aTableTheKernelLacksIsATypedError() throws {
            let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("struct_ops")) }
            guard case .structOps(let structOps)? = error?.reason, case .kernelTypeNotFound(let table) = structOps.reason else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(table == "demo_ops")
            #expect(error?.description.contains("bpf_struct_ops_demo_ops") == true)
        }

        @Test func aSetMemberTheKernelLacksFailsTheLoadAndLeavesNothing() throws {
            let spec = try settingMember(at: 20, to: 1, in: try congestionControlSpec(named: "swift_ca_bad"))
            let before = try KernelObjectIDs.now()
            let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec) }
            guard case .structOps(let structOps)? = error?.reason, case .memberNotInKernel(let member, _) = structOps.reason else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(member == "not_in_kernel")
            #expect(try KernelObjectIDs.settled(since: before, spec: spec) == KernelObjectIDs(maps: [], programs: []))
        }

        @Test func structOpsProgramsNoMapSetsAreLeftOutOfAWholeLoadOnly() throws {
            var spec = try testdataSpec("tcp_ca")
            spec.maps["swift_ca"] = nil
            let collection = try LoadedCollection(spec: spec)
            defer { collection.close() }
            #expect(collection.programs.isEmpty)
            #expect(collection.maps[".bss"] != nil)

            let error = #expect(throws: CollectionError.self) {
                try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["swift_ca_init"]))
            }
            guard case .structOps(let structOps)? = error?.reason, case .programWithoutTable(let program) = structOps.reason else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(program == "swift_ca_init" && error?.step == .program("swift_ca_init"))
        }

        @Test func aStructOpsProgramAloneBringsItsTable() throws {
            let spec = try congestionControlSpec(named: "swift_one_\(getpid() % 1000)")
            let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["swift_ca_init"]))
            defer { collection.close() }
            #expect(collection.maps["swift_ca"] != nil)
            #expect(collection.programs["swift_ca_init"]?.type == .structOps)
        }
    }
}

/// A connected TCP pair on 127.0.0.1 (client, accepted server end), close-on-exec.
func loopbackPair() throws -> (client: Int32, server: Int32) {
    let stream = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    let listener = socket(AF_INET, stream, 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
        }
    }
    let client = socket(AF_INET, stream, 0)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
    }
    let server = accept(listener, nil, nil)
    if server >= 0 { _ = fcntl(server, F_SETFD, FD_CLOEXEC) }
    guard listener >= 0, bound, connected, server >= 0 else {
        let failure = errno
        if client >= 0 { close(client) }
        if server >= 0 { close(server) }
        throw PinDirectoryError(path: "loopback TCP", errno: failure)
    }
    return (client, server)
}
