import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// USDT probes attached for real: programs built with libbpf 1.1's `<bpf/usdt.bpf.h>`
/// (testdata/usdt.c) read every argument through `bpf_usdt_arg`, on our own probes, on
/// python3.11's and on libstdc++'s.
@Suite(
    "USDT (root)", .serialized, .checksFileDescriptorLeaks, .requires(.uprobes),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN for perf events"))
struct USDTTests {
    /// How the spec is found and how the locations are attached.
    struct Mode: CustomStringConvertible, Sendable {
        var lookup: USDTSpecLookup
        var multi: Bool
        /// testdata/usdt (libbpf 1.1's usdt.bpf.h) or testdata/usdt_own (Examples/include/ebpf_usdt.h).
        var object = "usdt"
        var description: String {
            "\(object), \(lookup == .cookie ? "cookie" : "instruction pointer"), \(multi ? "uprobe.multi" : "uprobes")"
        }
    }

    /// Cookie and instruction-pointer lookup, each with single uprobes and (where the kernel has
    /// it) uprobe.multi, for programs built with libbpf's header and with ours.
    static var modes: [Mode] {
        let multi = KernelFeature.uprobeMulti.probe.present || TestKernel.current.expects(.uprobeMulti)
        let kinds = [Mode(lookup: .cookie, multi: false), Mode(lookup: .instructionPointer, multi: false)]
            + (multi ? [Mode(lookup: .cookie, multi: true), Mode(lookup: .instructionPointer, multi: true)] : [])
        return ["usdt", "usdt_own"].flatMap { object in kinds.map { var mode = $0; mode.object = object; return mode } }
    }

    /// testdata/usdt loaded with `LINUX_HAS_BPF_COOKIE` forced off for instruction-pointer
    /// lookup. Its `usdt` sections load for uprobe.multi where the kernel has it (the loader's
    /// choice); for single uprobes there, the programs are loaded as plain `uprobe` programs.
    static func load(_ mode: Mode) throws -> LoadedCollection {
        var spec = try hostOrderSpec(mode.object)
        for name in Array(spec.programs.keys) {
            #expect(spec.programs[name]?.type == .kprobe && spec.programs[name]?.sectionName == "usdt")
            if !mode.multi { spec.programs[name]?.sectionName = "uprobe" }
        }
        var options = CollectionOptions()
        if mode.lookup == .instructionPointer { options.kernelConfigOverrides["LINUX_HAS_BPF_COOKIE"] = 0 }
        let collection = try LoadedCollection(spec: spec, options: options)
        for program in collection.programs.values {
            #expect((program.attachType == .traceUprobeMulti) == mode.multi, "\(program.name): \(String(describing: program.attachType))")
        }
        return collection
    }

    struct Record: Equatable {
        var args: [Int64]
        var results: [Int32]
        var count: Int64
        var cookie: UInt64
    }

    /// The records `record_args` wrote, in the order of the hits.
    static func records(_ collection: LoadedCollection) throws -> [Record] {
        let hits = try collection.map("hits")
        let count = try #require(try hits.lookup(keyBytes: USDT.bytes(of: UInt32(0)))).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let records = try collection.map("records")
        var result: [Record] = []
        for index in 0..<UInt32(min(count, 64)) {
            let bytes = try #require(try records.lookup(keyBytes: USDT.bytes(of: index)))
            result.append(bytes.withUnsafeBytes { raw in
                Record(
                    args: (0..<12).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) },
                    results: (0..<12).map { raw.loadUnaligned(fromByteOffset: 96 + $0 * 4, as: Int32.self) },
                    count: raw.loadUnaligned(fromByteOffset: 144, as: Int64.self),
                    cookie: raw.loadUnaligned(fromByteOffset: 152, as: UInt64.self))
            })
        }
        #expect(count <= 64)
        return result
    }

    @Test(
        "our own probes: every argument of 1 to 12, registers, stack and constants, with and without semaphore",
        .enabled(if: USDTTargets.canBuildProbesBinary, USDTTargets.probesBinarySkipReason), arguments: modes)
    func ownProbes(mode: Mode) throws {
        // Its header and compiler are there (the trait): a failed build fails the test.
        let binary = try USDTTargets.probesBinary.get()
        let collection = try Self.load(mode)
        defer { collection.close() }
        let program = try collection.program("record_args")
        let process = try WaitingProcess(binary, ["1", "2"])
        var links: [USDT] = []
        for (index, name) in ["one", "three", "twelve", "guarded"].enumerated() {
            let link = try USDT(
                path: binary, provider: "swiftebpf", name: name, program: program, collection: collection,
                options: USDTOptions(pid: process.pid, cookie: 0x5eed_0000 + UInt64(index), specLookup: mode.lookup))
            #expect(link.usesUprobeMulti == mode.multi)
            #expect(link.usesInstructionPointers == (mode.lookup == .instructionPointer))
            links.append(link)
        }
        #expect(Set(links.flatMap(\.specIDs)).count == 4, "each probe has its own spec")
        let finished = process.finish()
        #expect(finished.status == 0)
        #expect(finished.output == "1\n", "the attached probe sets the semaphore")
        for link in links { try link.close() }

        let records = try Self.records(collection)
        // Two rounds of one, three, twelve and guarded.
        try #require(records.count == 8, "hits: \(records.count)")
        let expectedThree: [Int64] = [250, -1234, -99]
        for round in 0..<2 {
            let (one, three, twelve, guarded) = (records[round * 4], records[round * 4 + 1], records[round * 4 + 2], records[round * 4 + 3])
            #expect(one.count == 1 && one.cookie == 0x5eed_0000 && one.args[0] == -100_000)
            #expect(one.results[1] == -ENOENT, "an argument past the count is ENOENT")
            #expect(three.count == 3 && three.cookie == 0x5eed_0001 && Array(three.args[0..<3]) == expectedThree)
            #expect(twelve.count == 12 && twelve.cookie == 0x5eed_0002)
            #expect(twelve.args == USDTTargets.expectedTwelve)
            #expect(twelve.results == [Int32](repeating: 0, count: 12))
            #expect(guarded.count == 2 && guarded.cookie == 0x5eed_0003)
            #expect(Array(guarded.args[0..<2]) == [-5_000_000_000_000, 60000])
        }
        if mode.lookup == .instructionPointer {
            let pointers = try collection.map(USDTSpecMaps.instructionPointersMapName)
            #expect(try pointers.nextKey(after: nil) == nil, "closing removes the instruction pointers")
        }
    }

    @Test("python3.11: sys.audit events counted exactly by the name in argument 0", arguments: modes)
    func pythonAudit(mode: Mode) throws {
        guard access(USDTTargets.python, X_OK) == 0 else { print("skipped: no \(USDTTargets.python) (install python3.11)"); return }
        let collection = try Self.load(mode)
        defer { collection.close() }
        let script = """
            import sys
            print("ready", flush=True)
            sys.stdin.read(1)
            for i in range(7): sys.audit("swiftebpf.seven")
            for i in range(3): sys.audit("swiftebpf.three", i)
            sys.audit("swiftebpf.once")
            """
        let process = try WaitingProcess(USDTTargets.python, ["-c", script])
        #expect(process.readLine() == "ready")
        let link = try USDT(
            path: USDTTargets.python, provider: "python", name: "audit", program: try collection.program("count_audit"),
            collection: collection, options: USDTOptions(pid: process.pid, specLookup: mode.lookup))
        let finished = process.finish()
        try link.close()
        #expect(finished.status == 0)
        let counts = try collection.map("audit_counts")
        func count(_ name: String) throws -> UInt64 {
            var key = [UInt8](repeating: 0, count: 64)
            key.replaceSubrange(0..<name.utf8.count, with: Array(name.utf8))
            return try counts.lookup(keyBytes: key).map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } ?? 0
        }
        #expect(try count("swiftebpf.seven") == 7)
        #expect(try count("swiftebpf.three") == 3)
        #expect(try count("swiftebpf.once") == 1)
    }

    @Test("python3.11: gc__start reports the generation of gc.collect(2) from a stack operand", arguments: modes)
    func pythonCollect(mode: Mode) throws {
        guard access(USDTTargets.python, X_OK) == 0 else { print("skipped: no \(USDTTargets.python) (install python3.11)"); return }
        let collection = try Self.load(mode)
        defer { collection.close() }
        let script = "import gc, sys\ngc.disable()\nprint('ready', flush=True)\nsys.stdin.read(1)\ngc.collect(2)\ngc.collect(1)\n"
        let process = try WaitingProcess(USDTTargets.python, ["-c", script])
        // Start-up collects too (before gc.disable()): attach only once the script waits.
        #expect(process.readLine() == "ready")
        let link = try USDT(
            path: USDTTargets.python, provider: "python", name: "gc__start", program: try collection.program("record_args"),
            collection: collection, options: USDTOptions(pid: process.pid, specLookup: mode.lookup))
        let finished = process.finish()
        try link.close()
        #expect(finished.status == 0)
        let records = try Self.records(collection)
        // Interpreter shutdown collects again (generation 2) after the script's two.
        #expect(records.prefix(2).map { $0.args[0] } == [2, 1])
        #expect(records.allSatisfy { $0.count == 1 })
    }

    @Test("libstdc++: throw counts a C++ program's exceptions exactly", arguments: modes)
    func libstdcxxThrow(mode: Mode) throws {
        let binary: String
        switch USDTTargets.throwerBinary {
        case .success(let path): binary = path
        case .failure(let unavailable):
            Issue.record("the probe binary did not build: \(unavailable)")
            return
        }
        let library = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
        guard access(library, R_OK) == 0 else { print("skipped: no \(library) (install libstdc++6)"); return }
        let collection = try Self.load(mode)
        defer { collection.close() }
        let process = try WaitingProcess(binary, ["9"])
        // The dynamic loader maps libstdc++ before main reads stdin; instruction-pointer lookup
        // needs that mapping.
        var mapped = false
        for _ in 0..<200 where !mapped {
            mapped = (readFile("/proc/\(process.pid)/maps").map { String(decoding: $0, as: UTF8.self) } ?? "").contains("libstdc++")
            if !mapped { usleep(10_000) }
        }
        let link = try USDT(
            path: library, provider: "libstdcxx", name: "throw", program: try collection.program("record_args"),
            collection: collection, options: USDTOptions(pid: process.pid, specLookup: mode.lookup))
        let finished = process.finish()
        try link.close()
        #expect(finished.status == 0 && finished.output == "9\n")
        let records = try Self.records(collection)
        #expect(records.count == 9)
        #expect(records.allSatisfy { $0.count == 2 && $0.args[0] != 0 }, "arg 0 is the exception object")
    }

    @Test("a missing probe, a binary without notes, a failed location: typed errors, nothing left attached")
    func errors() throws {
        let collection = try Self.load(Mode(lookup: .cookie, multi: false, object: "usdt_own"))
        defer { collection.close() }
        let program = try collection.program("record_args")
        if case .success(let binary) = USDTTargets.probesBinary {
            #expect {
                try USDT(path: binary, provider: "swiftebpf", name: "absent", program: program, collection: collection)
            } throws: { error in
                guard case LinkError.usdt(.probeNotFound(let probe, let available)) = error else { return false }
                return probe.name == "absent" && probe.provider == "swiftebpf" && available.contains("swiftebpf:twelve")
            }
        }
        #expect {
            try USDT(path: "/bin/true", provider: "x", name: "y", program: program, collection: collection)
        } throws: { error in
            guard case LinkError.usdt(.noProbes(let path)) = error else { return false }
            return path.hasSuffix("true")
        }
        // A program of the wrong type fails at the first location; its spec ids are free again.
        if access(USDTTargets.python, X_OK) == 0 {
            let wrong = try LoadedCollection(spec: try hostOrderSpec("sections").filteredToSocketFilter())
            defer { wrong.close() }
            let maps = try USDTSpecMaps(collection: collection)
            let mapID = try maps.specs.info().id
            #expect(throws: LinkError.self) {
                try USDT(path: USDTTargets.python, provider: "python", name: "audit", program: try #require(wrong.programs.values.first), maps: maps)
            }
            #expect(USDTSpecIDs.allocate(256, map: mapID, capacity: 256)?.count == 256, "spec ids were released")
            USDTSpecIDs.release(Array(0..<256), map: mapID)
        }
    }
}

extension CollectionSpec {
    /// Only the first socket filter program of the spec (for a program of a type uprobes refuse).
    fileprivate func filteredToSocketFilter() throws -> CollectionSpec {
        var copy = self
        let keep = try #require(programs.first { $0.value.type == .socketFilter }?.key)
        copy.programs = programs.filter { $0.key == keep }
        return copy
    }
}
