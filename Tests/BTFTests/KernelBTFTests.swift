import EBPFBTF
import Glibc
import Testing
import TestSupport

/// The host's vmlinux BTF: readable without root on the test machines (Linux 6.18).
@Suite("Kernel BTF")
struct KernelBTFTests {
    static let vmlinux = "/sys/kernel/btf/vmlinux"

    @Test func taskStructHasPidOfTypePidT() throws {
        let spec = try BTFSpec(path: Self.vmlinux)
        #expect(spec.byteOrder == .littleEndian)
        #expect(spec.firstTypeID == 1)
        #expect(spec.ownTypeCount > 50_000)
        let id = try #require(spec.typeID(named: "task_struct", kind: .struct))
        guard case .struct(let task) = try spec.type(id) else {
            Issue.record("task_struct is \(try spec.type(id))")
            return
        }
        #expect(task.name == "task_struct")
        #expect(task.size > 1000)
        let pid = try #require(task.members.first { $0.name == "pid" })
        guard case .typedef(let pidT) = try spec.type(pid.type) else {
            Issue.record("pid is not a typedef: \(try spec.type(pid.type))")
            return
        }
        #expect(pidT.name == "pid_t")
        let underlying = try spec.underlyingTypeID(of: pid.type)
        guard case .int(let int) = try spec.type(underlying) else {
            Issue.record("pid_t is not an int")
            return
        }
        #expect(int.name == "int")
        #expect(int.size == 4)
        #expect(int.encoding == .signed)
        #expect(try spec.size(of: pid.type) == 4)
        #expect(try spec.size(of: id) == UInt64(task.size))
        #expect(spec.typeID(named: "task_struct", kind: .union) == nil)
        #expect(spec.typeID(named: "no_such_type_in_any_kernel", kind: .struct) == nil)
    }

    @Test func bpfMapTypeEnumHasArena() throws {
        let spec = try BTFSpec(path: Self.vmlinux)
        let id = try #require(spec.typeID(named: "bpf_map_type", kind: .enum))
        guard case .enum(let mapType) = try spec.type(id) else {
            Issue.record("bpf_map_type is not an enum")
            return
        }
        #expect(mapType.size == 4)
        #expect(mapType.values.first { $0.name == "BPF_MAP_TYPE_ARENA" }?.value == 33)
        #expect(mapType.values.first { $0.name == "BPF_MAP_TYPE_UNSPEC" }?.value == 0)
    }

    @Test func wholeGraphDecodesAndAgreesWithLazyDecoding() throws {
        let spec = try BTFSpec(path: Self.vmlinux)
        let graph = try spec.typeGraph()
        #expect(graph.types.count == Int(spec.typeCount))
        #expect(graph.types[0] == .void)
        var kinds = Set<BTFKind>()
        for type in graph.types { kinds.insert(type.kind) }
        for kind in [BTFKind.int, .pointer, .array, .struct, .union, .enum, .forward, .typedef, .volatile, .const,
            .function, .functionPrototype, .variable, .dataSection, .float]
        {
            #expect(kinds.contains(kind), "vmlinux has \(kind) types")
        }
        // A fresh spec decodes the same values lazily.
        let fresh = try BTFSpec(path: Self.vmlinux)
        for id in stride(from: UInt32(1), to: spec.typeCount, by: 97) {
            #expect(try fresh.type(BTFTypeID(id)) == graph.types[Int(id)])
            let header = try fresh.kindAndVlen(of: BTFTypeID(id))
            #expect(header.kind == graph.types[Int(id)].kind)
        }
        #expect(try spec.typeGraph() == graph)
    }

    @Test func nameIndexAndScanAgree() throws {
        let scanning = try BTFSpec(path: Self.vmlinux)
        let indexed = try BTFSpec(path: Self.vmlinux)
        indexed.buildNameIndex()
        let names: [(String, BTFKind)] = [
            ("task_struct", .struct), ("bpf_attr", .union), ("bpf_cmd", .enum), ("u32", .typedef),
            ("int", .int), ("bpf_map_type", .enum), ("sk_buff", .struct), ("missing_type_x", .struct),
        ]
        for (name, kind) in names {
            // Only the first lookup of a fresh spec scans; use a fresh one per name.
            let scanned = try BTFSpec(path: Self.vmlinux).typeID(named: name, kind: kind)
            #expect(indexed.typeID(named: name, kind: kind) == scanned, "\(name)")
            #expect(scanning.typeID(named: name, kind: kind) == scanned, "\(name)")
            if let scanned { #expect(try scanning.name(of: scanned) == name) }
        }
        let allNamedInt = indexed.typeIDs(named: "int")
        #expect(allNamedInt.contains(try #require(indexed.typeID(named: "int", kind: .int))))
    }

    @Test func cacheKeepsTheSpecUntilFlushed() throws {
        let loads = LoadCounter()
        let cache = KernelBTFCache(
            vmlinux: { () throws(BTFError) in
                loads.increment()
                return try BTFSpec(path: KernelBTFTests.vmlinux)
            },
            module: { (name, base) throws(BTFError) in try KernelBTF.loadModule(name, vmlinux: base) })
        let first = try cache.vmlinux()
        #expect(try cache.vmlinux() === first)
        #expect(loads.value == 1)
        cache.flush()
        let second = try cache.vmlinux()
        #expect(second !== first)
        #expect(loads.value == 2)
        #expect(throws: BTFError.readFailed(path: "/sys/kernel/btf/no_such_module", errno: ENOENT)) {
            try cache.module("no_such_module")
        }
    }

    @Test func sharedCacheReadsTheRunningKernel() throws {
        let spec = try KernelBTF.cache.vmlinux()
        #expect(spec.typeID(named: "task_struct", kind: .struct) != nil)
        #expect(KernelBTF.fallbackPaths(release: "6.1.0-1-amd64").contains("/boot/vmlinux-6.1.0-1-amd64"))
        #expect(!KernelBTF.kernelRelease().isEmpty)
    }

    @Test func moduleNamesCannotEscapeSysfs() throws {
        let base = try BTFSpec(path: Self.vmlinux)
        #expect(throws: BTFError.readFailed(path: "/sys/kernel/btf/../btf/vmlinux", errno: EINVAL)) {
            try KernelBTF.loadModule("../btf/vmlinux", vmlinux: base)
        }
    }

    /// Module BTF is split BTF on top of vmlinux (the host has no modules; the VM tier's kernels do).
    @Test(.requires(.moduleBTF)) func loadedModulesParseAsSplitBTF() throws {
        guard KernelFeature.moduleBTF.check() else { return }
        let base = try BTFSpec(path: Self.vmlinux)
        let modules = KernelFeature.moduleBTFNames()
        #expect(!modules.isEmpty)
        for name in modules.prefix(5) {
            let module = try KernelBTF.loadModule(name, vmlinux: base)
            #expect(module.firstTypeID.rawValue == base.typeCount, "\(name)")
            #expect(module.ownTypeCount > 0, "\(name)")
            _ = try module.typeGraph()
        }
    }
}

final class LoadCounter: Sendable {
    private let count = AtomicCounter()
    func increment() { count.add() }
    var value: Int { count.load() }
}

import Synchronization

final class AtomicCounter: Sendable {
    private let storage = Atomic<Int>(0)
    func add() { storage.add(1, ordering: .relaxed) }
    func load() -> Int { storage.load(ordering: .relaxed) }
}

@Suite("Kernel BTF fallbacks and concurrency")
struct KernelBTFFallbackTests {
    /// The vmlinux fallback reads an ELF file's `.BTF` section; a BPF object has one too.
    @Test func readsTheBTFSectionOfAnELFFile() throws {
        let fromELF = try KernelBTF.loadELF(path: TestData.path("maps_btf-eb.o"))
        #expect(fromELF.byteOrder == .bigEndian)
        #expect(fromELF.typeID(named: "event", kind: .struct) != nil)
    }

    @Test func elfWithoutBTFIsATypedError() throws {
        #expect(throws: BTFError.elf(path: "/proc/self/exe", reason: "no .BTF section")) {
            try KernelBTF.loadELF(path: "/proc/self/exe")
        }
        do {
            _ = try KernelBTF.loadELF(path: "/nonexistent/vmlinux")
            Issue.record("a missing file must not load")
        } catch .elf(let path, _) {
            #expect(path == "/nonexistent/vmlinux")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func concurrentLookupsOnOneSpecAgree() async throws {
        let spec = try BTFSpec(path: KernelBTFTests.vmlinux)
        let expected = try #require(spec.typeID(named: "task_struct", kind: .struct))
        let results = await withTaskGroup(of: BTFTypeID?.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    // Each worker decodes types and looks names up while others build the caches.
                    for id in stride(from: UInt32(1 + worker), to: min(spec.typeCount, 20_000), by: 8) {
                        _ = try? spec.type(BTFTypeID(id))
                    }
                    return spec.typeID(named: "task_struct", kind: .struct)
                }
            }
            var all: [BTFTypeID?] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results == Array(repeating: expected, count: 8))
    }
}

@Suite("Kernel BTF by id")
struct KernelBTFByIDTests {
    /// The kernel numbers its own vmlinux BTF object first; read by id it equals sysfs's blob.
    @Test(.enabled(if: Privileges.canAdminister, Privileges.bpfSkipReason))
    func vmlinuxByIDEqualsSysfs() throws {
        let sysfs = try BTFSpec(path: KernelBTFTests.vmlinux)
        let byID = try KernelBTF.load(id: 1)
        #expect(byID.header == sysfs.header)
        let same = byID.withUnsafeBytes { kernel in sysfs.withUnsafeBytes { file in kernel.elementsEqual(file) } }
        #expect(same)
        #expect(byID.typeID(named: "task_struct", kind: .struct) == sysfs.typeID(named: "task_struct", kind: .struct))
    }

    @Test(.enabled(if: Privileges.canAdminister, Privileges.bpfSkipReason))
    func missingIDIsATypedError() throws {
        #expect(throws: BTFError.kernelObject(id: 0x7FFF_FFF0, command: "BPF_BTF_GET_FD_BY_ID", errno: 2)) {
            try KernelBTF.load(id: 0x7FFF_FFF0)
        }
    }
}
