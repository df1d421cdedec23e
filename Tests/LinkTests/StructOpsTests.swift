import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// `TCP_CONGESTION`.
private let tcpCongestionOption: Int32 = 13

/// A `tcp_congestion_ops` table named `name` whose `init` counts the sockets it is assigned to,
/// `ssthresh` and `undo_cwnd` return constants, `cong_avoid` does nothing: built from the running
/// kernel's BTF and loaded into a `BPF_F_LINK` struct_ops map.
private final class CongestionControl {
    let map: Map
    let initCounter: Counter
    let others: [Program]

    init(name: String) throws {
        let operations = try KernelBTF.structLayout(named: "tcp_congestion_ops")
        let value = try KernelBTF.structLayout(named: "bpf_struct_ops_tcp_congestion_ops")
        let data = try value.member("data").offset
        func load(_ member: String, returning result: Int32) throws -> (program: Program, offset: Int) {
            let (offset, index) = try operations.member(member)
            let counter = try Counter(
                type: .structOps, expectedAttachType: AttachType(rawValue: UInt32(index)), attachBTFID: operations.id,
                returning: result)
            return (counter.program, offset)
        }
        let (initOffset, initIndex) = try operations.member("init")
        initCounter = try Counter(
            type: .structOps, expectedAttachType: AttachType(rawValue: UInt32(initIndex)), attachBTFID: operations.id)
        let ssthresh = try load("ssthresh", returning: 2)
        let undo = try load("undo_cwnd", returning: 10)
        let avoid = try load("cong_avoid", returning: 0)
        others = [ssthresh.program, undo.program, avoid.program]

        var bytes = [UInt8](repeating: 0, count: value.size)
        func store(_ program: Program, at offset: Int) {
            let descriptor = UInt64(UInt32(bitPattern: program.fileDescriptorValue))
            for byte in 0..<8 { bytes[data + offset + byte] = UInt8(truncatingIfNeeded: descriptor >> (8 * UInt64(byte))) }
        }
        store(initCounter.program, at: initOffset)
        store(ssthresh.program, at: ssthresh.offset)
        store(undo.program, at: undo.offset)
        store(avoid.program, at: avoid.offset)
        let nameOffset = data + (try operations.member("name").offset)
        for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[nameOffset + index] = byte }

        // The kernel wants some program BTF with the map even though the value type is the
        // kernel's own (it is how an object file names the kernel's counterpart).
        let btf = try Sys.loadBTF(entryFunctionBTF())
        var attributes = MapCreateAttr()
        attributes.btfFD = UInt32(bitPattern: btf.rawValue)
        attributes.mapType = MapType.structOps.rawValue
        attributes.keySize = 4
        attributes.valueSize = UInt32(value.size)
        attributes.maxEntries = 1
        attributes.mapFlags = MapFlags.link.rawValue
        attributes.btfVmlinuxValueTypeID = value.id
        map = try Map(adopting: Sys.mapCreate(attributes))
        try map.update(keyBytes: [0, 0, 0, 0], valueBytes: bytes)
    }
}

/// Whether `name` is listed in `tcp_available_congestion_control`.
private func congestionControlAvailable(_ name: String) -> Bool {
    guard let bytes = readFile("/proc/sys/net/ipv4/tcp_available_congestion_control") else { return false }
    return String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0 == name }
}

@Suite(
    "struct_ops links", .serialized, .checksFileDescriptorLeaks, .requires(.structOpsLinks),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct StructOpsTests {
    @Test func congestionControlRegistersWhileLinked() throws {
        guard KernelFeature.structOpsLinks.check() else { return }
        let name = "swift_cc_\(getpid() % 10000)"
        let control = try CongestionControl(name: name)
        #expect(!congestionControlAvailable(name))
        let link = try StructOps.attach(map: control.map)
        #expect(congestionControlAvailable(name))
        #expect(try link.info().extra(as: StructOpsLinkInfo.self).mapID == (try control.map.info().id))

        let tcp = try LoopbackTCP()
        let selected = Array(name.utf8)
        let status = setsockopt(tcp.client, Int32(IPPROTO_TCP), tcpCongestionOption, selected, socklen_t(selected.count))
        #expect(status == 0, "setsockopt TCP_CONGESTION \(name): errno \(errno)")
        #expect(try control.initCounter.count() == 1, "init runs when the socket switches to the table")

        try link.close()
        #expect(!congestionControlAvailable(name))
    }

    @Test func linkInfoNamesTheMap() throws {
        guard KernelFeature.structOpsLinks.check() else { return }
        let control = try CongestionControl(name: "swift_cc19_\(getpid() % 10000)")
        let link = try StructOps.attach(map: control.map)
        defer { try? link.close() }
        let description = try link.describe()
        #expect(description.type == .structOps)
        #expect(description.details == .structOps(mapID: try control.map.info().id))
    }

    @Test func mapWithoutLinkFlagIsRefused() throws {
        let map = try Map(spec: MapSpec(name: "array", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        #expect {
            try StructOps.attach(map: map)
        } throws: { error in
            guard case .invalidOption(let text) = error as? LinkError else { return false }
            return text.contains("struct_ops")
        }
    }
}
