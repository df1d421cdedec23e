import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite(
    "iterators", .serialized, .checksFileDescriptorLeaks, .requires(.tracingPrograms),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct IteratorTests {
    /// An iterator program for `target` (`bpf_map`, `task`...) that writes one byte, `marker`,
    /// for each object: the context's second pointer (the map, the task) is null once at the end.
    static func loadMarker(target: String, marker: Int32) throws -> Program {
        let instructions = try ProgramBuilder {
            Instruction.load(.r6, from: .r1, offset: 0, size: .doubleWord)  // ctx->meta
            Instruction.load(.r7, from: .r1, offset: 8, size: .doubleWord)  // ctx->map, ctx->task
            Instruction.jumpIf(.r7, .equal, 0, label: "out")
            Instruction.load(.r1, from: .r6, offset: 0, size: .doubleWord)  // meta->seq
            Instruction.store(marker, to: .r10, offset: -8, size: .byte)
            Instruction.mov64(.r2, .r10)
            Instruction.add64(.r2, -8)
            Instruction.mov64(.r3, 1)
            Instruction.callHelper(127)  // bpf_seq_write
            Label("out")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
        }.build().encoded(byteOrder: .host)
        var attributes = ProgLoadAttr()
        attributes.progType = ProgramType.tracing.rawValue
        attributes.expectedAttachType = AttachType.traceIter.rawValue
        attributes.attachBTFID = try KernelBTF.functionID(named: "bpf_iter_\(target)")
        attributes.insnCnt = UInt32(instructions.count / 8)
        let license = Array("GPL".utf8) + [0]
        let loaded = try instructions.withUnsafeBytes { code in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).relinquishDescriptor()
            }
        }
        return try Program(adopting: FileDescriptor(adopting: loaded))
    }

    @Test func mapIteratorWritesOneBytePerMap() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        // Map objects, not bare descriptors in an array: the maps must stay open while the
        // iterator runs (in a fresh VM they are the only maps there are).
        let maps = try (0..<3).map { index in
            try Map(spec: MapSpec(name: "iter_\(index)", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        }
        let iterator = try Iterator(program: try Self.loadMarker(target: "bpf_map", marker: 0x6d))
        let existing = try Map.allIDs()
        for map in maps { #expect(existing.contains(try map.info().id)) }
        let first = try iterator.readAll()
        #expect(first.count >= maps.count)
        #expect(first.allSatisfy { $0 == 0x6d })
        // Every read runs the program again.
        let second = try iterator.readAll()
        #expect(second.count >= maps.count)
        let info = try iterator.info()
        #expect(info.type == 4)  // BPF_LINK_TYPE_ITER
        try iterator.close()
        #expect(throws: LinkError.self) { _ = try iterator.open() }
        for map in maps { try map.close() }
    }

    @Test func taskIteratorSeesThisProcessThreads() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let iterator = try Iterator(program: try Self.loadMarker(target: "task", marker: 0x74))
        let output = try iterator.readAll()
        let ownThreads = try #require(countDirectoryEntries("/proc/self/task"))
        #expect(output.count >= ownThreads)
        #expect(output.allSatisfy { $0 == 0x74 })
        try iterator.close()
    }

    @Test func taskIteratorNarrowsToAThreadOrAProcess() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let everyTask = try Iterator(program: try Self.loadMarker(target: "task", marker: 0x61))
        defer { try? everyTask.close() }
        let process = try Iterator(program: try Self.loadMarker(target: "task", marker: 0x62), options: .process(getpid()))
        defer { try? process.close() }
        let thread = try Iterator(program: try Self.loadMarker(target: "task", marker: 0x63), options: .thread(currentThreadID()))
        defer { try? thread.close() }

        let all = try everyTask.readAll()
        let ownThreadsBefore = try #require(countDirectoryEntries("/proc/self/task"))
        let own = try process.readAll()
        let ownThreadsAfter = try #require(countDirectoryEntries("/proc/self/task"))
        // Thread pools may start or end a thread meanwhile; the process has far fewer tasks than
        // the system.
        #expect(own.count >= min(ownThreadsBefore, ownThreadsAfter) - 1 && own.count <= max(ownThreadsBefore, ownThreadsAfter) + 1)
        #expect(own.count < all.count)
        #expect(own.allSatisfy { $0 == 0x62 })
        #expect(try thread.readAll() == [0x63])
        #expect(throws: LinkError.self) {
            try Iterator(program: try Self.loadMarker(target: "task", marker: 0x64), options: .process(0))
        }
    }

    @Test func pinnedIteratorReadsThroughTheFileSystem() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let iterator = try Iterator(program: try Self.loadMarker(target: "task", marker: 0x70))
        let path = "/sys/fs/bpf/swift_ebpf_iter_\(getpid())"
        try iterator.link.pin(at: path)
        defer { unlink(path) }
        let bytes = try #require(readFile(path))
        #expect(!bytes.isEmpty)
        #expect(bytes.allSatisfy { $0 == 0x70 })
        let reopened = try RawLink(pinnedAt: path)
        #expect(try reopened.info().id == iterator.info().id)
        try reopened.close()
        try iterator.close()
    }
}

extension IteratorTests {
    /// A `bpf_map_elem` iterator program that writes each element's 4-byte key.
    static func loadKeyWriter() throws -> Program {
        let instructions = try ProgramBuilder {
            Instruction.load(.r6, from: .r1, offset: 0, size: .doubleWord)  // ctx->meta
            Instruction.load(.r2, from: .r1, offset: 16, size: .doubleWord)  // ctx->key
            Instruction.jumpIf(.r2, .equal, 0, label: "out")
            Instruction.load(.r1, from: .r6, offset: 0, size: .doubleWord)  // meta->seq
            Instruction.mov64(.r3, 4)
            Instruction.callHelper(127)  // bpf_seq_write(seq, key, 4)
            Label("out")
            Instruction.mov64(.r0, 0)
            Instruction.exit()
        }.build().encoded(byteOrder: .host)
        var attributes = ProgLoadAttr()
        attributes.progType = ProgramType.tracing.rawValue
        attributes.expectedAttachType = AttachType.traceIter.rawValue
        attributes.attachBTFID = try KernelBTF.functionID(named: "bpf_iter_bpf_map_elem")
        attributes.insnCnt = UInt32(instructions.count / 8)
        let license = Array("GPL".utf8) + [0]
        let loaded = try instructions.withUnsafeBytes { code in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).relinquishDescriptor()
            }
        }
        return try Program(adopting: FileDescriptor(adopting: loaded))
    }

    @Test func mapElementIteratorWritesEachKey() throws {
        guard KernelFeature.tracingPrograms.check() else { return }
        let map = try Map(spec: MapSpec(name: "iter_elems", type: .hash, keySize: 4, valueSize: 8, maxEntries: 8))
        let keys: [UInt32] = [3, 17, 40_000]
        for key in keys { try map.update(key, UInt64(key) * 2) }
        let iterator = try Iterator(program: try Self.loadKeyWriter(), map: map)
        let output = try iterator.readAll()
        #expect(output.count == keys.count * 4)
        let seen = stride(from: 0, to: output.count - 3, by: 4).map { offset in
            UInt32(output[offset]) | UInt32(output[offset + 1]) << 8 | UInt32(output[offset + 2]) << 16
                | UInt32(output[offset + 3]) << 24
        }
        #expect(Set(seen) == Set(keys))
        #expect(try iterator.info().extra(as: IterLinkInfo.self).mapID == (try map.info().id))
        try iterator.close()
        // Without a map the element iterator has nothing to walk: the kernel refuses the link.
        #expect(throws: LinkError.self) { try Iterator(program: try Self.loadKeyWriter()) }
        try map.close()
    }
}

/// The number of entries in a directory, without `.` and `..`.
func countDirectoryEntries(_ path: String) -> Int? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}
