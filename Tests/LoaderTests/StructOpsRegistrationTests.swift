import EBPFCollection
import EBPFLink
import EBPFSys
import Glibc
import Testing
import TestSupport

/// The tcp_ca_plain object (a `.struct_ops` map, without BPF_F_LINK) with its table named `name`
/// (at most 15 bytes), unique per process and test so that parallel runs, the other struct_ops
/// tests and a table a failed run left behind do not collide.
private func plainCongestionControlSpec(named name: String) throws -> CollectionSpec {
    var spec = try testdataSpec("tcp_ca_plain")
    var map = try #require(spec.maps[plainMapName])
    guard case .bytes(var bytes)? = map.contents.first?.value else {
        throw PlainStructOpsTestError.noInitialValue
    }
    // `name[16]` follows four function pointers and `flags` in the object's struct
    // (testdata/tcp_ca_plain.c).
    let nameOffset = 36
    let encoded = Array(name.utf8.prefix(15))
    for index in 0..<16 { bytes[nameOffset + index] = index < encoded.count ? encoded[index] : 0 }
    map.contents = [MapEntry(key: [0, 0, 0, 0], value: .bytes(bytes))]
    spec.maps[plainMapName] = map
    return spec
}

private let plainMapName = "swift_ca_plain"

private enum PlainStructOpsTestError: Error { case noInitialValue }

/// A table name for this process and `test` (one letter).
private func tableName(_ test: String) -> String { "swcp\(test)_\(getpid())" }

private func isAvailable(_ name: String) -> Bool { congestionControls("available").contains(name) }

extension LoaderSuites {
    /// Tier 2: struct_ops maps without BPF_F_LINK in the host kernel. Writing such a map's value
    /// registers its table and nothing undoes that when descriptors close, so a load must register
    /// nothing, and the attach returns what unregisters.
    @Suite(
        "struct_ops maps without BPF_F_LINK", .checksFileDescriptorLeaks,
        .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
    struct StructOpsRegistrationTests {
        @Test func aLoadRegistersNothingAndTheAttachRegistersUntilClosed() throws {
            let name = tableName("a")
            let collection = try LoadedCollection(spec: try plainCongestionControlSpec(named: name))
            defer { collection.close() }
            let map = try collection.map(plainMapName)
            #expect(map.type == .structOps && !map.flags.contains(.link))
            #expect(!isAvailable(name), "a load must not register a map without BPF_F_LINK")

            let link = try StructOps.attach(map: map)
            #expect(isAvailable(name))
            #expect(congestionControls("allowed").contains(name), "flags came from the object's data")
            #expect(link.kernelLink == nil && !link.isClosed)
            let info = #expect(throws: LinkError.self) { try link.info() }
            guard case .notSupported? = info else {
                Issue.record("info of a value registration: \(String(describing: info))")
                return
            }
            let pin = #expect(throws: LinkError.self) { try link.pin(at: "/sys/fs/bpf/swift_ebpf_never_\(getpid())") }
            guard case .notSupported? = pin else {
                Issue.record("pin of a value registration: \(String(describing: pin))")
                return
            }

            // A map registers once: the kernel answers a second write with EBUSY.
            let again = #expect(throws: LinkError.self) { try StructOps.attach(map: map) }
            guard case .attachPointBusy(let hook, _)? = again else {
                Issue.record("second attach: \(String(describing: again))")
                return
            }
            #expect(hook.contains(plainMapName))
            #expect(isAvailable(name), "the refused second attach leaves the first registration alone")

            do {
                let (client, server) = try loopbackPair()
                defer {
                    close(client)
                    close(server)
                }
                let selected = Array(name.utf8)
                let status = setsockopt(client, Int32(IPPROTO_TCP), tcpCongestionOption, selected, socklen_t(selected.count))
                #expect(status == 0, "setsockopt TCP_CONGESTION \(name): errno \(errno)")
                #expect(try collection.variable("plain_init_calls").get(as: UInt64.self) == 1, "init runs when the socket switches")
            }

            try link.close()
            #expect(link.isClosed)
            #expect(!isAvailable(name))
            try link.close()
            let closedInfo = #expect(throws: LinkError.self) { try link.info() }
            guard case .closed? = closedInfo else {
                Issue.record("info after close: \(String(describing: closedInfo))")
                return
            }
        }

        @Test func closingTheCollectionWithoutAttachLeavesNothingRegistered() throws {
            let name = tableName("b")
            let spec = try plainCongestionControlSpec(named: name)
            let before = try KernelObjectIDs.now()
            let collection = try LoadedCollection(spec: spec)
            #expect(!isAvailable(name))
            collection.close()
            #expect(!isAvailable(name))
            // A registered table holds its map and programs: left registered, they would never go
            // away. (Not `.bss`: other processes' tests make maps of that name all the time.)
            #expect(try KernelObjectIDs.settled(since: before, spec: spec, ignoring: [".bss"]) == KernelObjectIDs(maps: [], programs: []))
        }

        @Test func theRegistrationOutlivesTheCollectionUntilTheLinkCloses() throws {
            let name = tableName("c")
            let spec = try plainCongestionControlSpec(named: name)
            let collection = try LoadedCollection(spec: spec)
            // Closing the programs first, as a CollectionObjects type that asks only for the map
            // does: the prepared value holds programs of its own.
            for program in collection.programs.values { try program.close() }
            let link = try StructOps.attach(map: try collection.map(plainMapName))
            collection.close()
            #expect(isAvailable(name), "the link keeps the map to unregister from")
            try link.close()
            #expect(!isAvailable(name))
        }

        @Test func aSecondTableOfTheSameNameIsBusy() throws {
            let name = tableName("d")
            let spec = try plainCongestionControlSpec(named: name)
            let first = try LoadedCollection(spec: spec)
            defer { first.close() }
            let second = try LoadedCollection(spec: spec)
            defer { second.close() }
            let link = try StructOps.attach(map: try first.map(plainMapName))
            defer { try? link.close() }
            // The kernel refuses a second congestion control of one name with EEXIST.
            let error = #expect(throws: LinkError.self) { try StructOps.attach(map: try second.map(plainMapName)) }
            guard case .attachPointBusy(_, let detail)? = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(detail.contains("name"))
            try link.close()
            #expect(!isAvailable(name))
        }

        @Test func aMapNoLoadPreparedIsATypedError() throws {
            let name = tableName("e")
            let collection = try LoadedCollection(spec: try plainCongestionControlSpec(named: name))
            defer { collection.close() }
            let opened = try Map(id: try collection.map(plainMapName).info().id)
            defer { try? opened.close() }
            let error = #expect(throws: LinkError.self) { try StructOps.attach(map: opened) }
            guard case .structOpsValueNotPrepared(let map)? = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(map == opened.name)
            #expect(!isAvailable(name))

            // A clone of the loaded map carries the prepared value.
            let clone = try collection.map(plainMapName).clone()
            defer { try? clone.close() }
            let link = try StructOps.attach(map: clone)
            #expect(isAvailable(name))
            try link.close()
            #expect(!isAvailable(name))
        }
    }
}
