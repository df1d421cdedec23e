import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

extension LoaderSuites {
/// Objects written for libbpf that rely on its rules: hidden global functions verified as static.
@Suite("Loading objects written for libbpf", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct CompatibilityLoadTests {
    /// testdata/hidden_func.c: the hidden functions dereference their pointer argument unchecked,
    /// which only verifies in the caller's context.
    @Test func hiddenFunctionsVerifyInTheirCallersContext() throws {
        let spec = try testdataSpec("hidden_func")
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        // skb->len of a 64-byte socket filter test run is 50: (50 + 1) + (50 + 2) + 50.
        #expect(try collection.program("calls_hidden").testRun(data: packet).returnValue == 153)

        // The same object with the functions taken as plain globals is refused, as it would be
        // without libbpf's rule: the verifier checks them alone, with a maybe-NULL pointer.
        var global = spec
        for name in ["read_hidden", "read_hidden_weak"] { global.subprograms[name]?.isHidden = false }
        #expect(throws: CollectionError.self) { try LoadedCollection(spec: global).close() }
        do {
            try LoadedCollection(spec: global).close()
        } catch {
            #expect("\(error)".contains("invalid mem access"), "\(error)")
        }
    }

    /// testdata/map_btf_types.c: every map is created with its BTF key and value types, except
    /// the types libbpf leaves BTF out for and the program array, which has a key type but no
    /// value type (a lone key id is refused with EINVAL for every map type). The program array's
    /// initial value is in place: the tail call lands.
    @Test func everyMapTypeWithItsBTF() throws {
        let spec = try testdataSpec("map_btf_types")
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let strippedUpFront: Set<MapType> = [
            .perfEventArray, .stackTrace, .cgroupArray, .devmap, .sockmap, .cpumap, .xskmap, .sockhash, .devmapHash, .queue,
        ]
        var kept: [String] = []
        var refused: [String] = []
        for (name, mapSpec) in spec.maps.sorted(by: { $0.key < $1.key }) {
            let info = try collection.map(name).info()
            if strippedUpFront.contains(mapSpec.type) || mapSpec.type == .progArray {
                #expect(info.btfID == 0, "\(name) carries BTF")
            } else if info.btfID != 0 {
                kept.append(name)
            } else {
                refused.append(name)
            }
        }
        print("map types with BTF on \(TestKernel.current.rawValue): kept by \(kept), refused (created again without) by \(refused)")
        for name in ["hash_map", "array_map", "percpu_array_map", "lru_hash_map", "bloom_map", "sk_storage_map", "task_storage_map"] {
            #expect(kept.contains(name), "\(name) lost its BTF")
        }
        #expect(try collection.program("jump").testRun(data: packet).returnValue == 7)
    }

    /// A map whose BTF the kernel refuses (here a key type of 8 bytes for a 4-byte key, which
    /// every kernel refuses with EINVAL) is created once more without BTF.
    @Test func mapRefusingItsBTFIsCreatedWithout() throws {
        var spec = try testdataSpec("map_btf_types")
        let wrongKey = try #require(spec.types?.typeID(named: "__u64", kind: .typedef))
        spec.maps["hash_map"]?.keyType = wrongKey
        let collection = try LoadedCollection(spec: spec, selection: CollectionSelection(maps: ["hash_map", "array_map"]))
        defer { collection.close() }
        #expect(try collection.map("hash_map").info().btfID == 0)
        #expect(try collection.map("array_map").info().btfID != 0)
        // Other failures are not retried: a key size the kernel refuses with or without BTF.
        spec.maps["hash_map"]?.keySize = 0
        #expect(throws: CollectionError.self) {
            try LoadedCollection(spec: spec, selection: CollectionSelection(maps: ["hash_map"])).close()
        }
    }

    /// Where tracing programs are refused with EPERM (this host: integrity lockdown, root
    /// without CAP_SYS_RESOURCE), the message states the evidence, not a guess about memlock.
    @Test(.lacks(.tracingPrograms))
    func refusedFexitStatesTheEvidence() throws {
        let spec = try testdataSpec("tracing_fmod_ret")
        var caught: CollectionError?
        do throws(CollectionError) {
            try LoadedCollection(spec: spec, selection: CollectionSelection(programs: ["record_prctl"])).close()
        } catch {
            caught = error
        }
        let error = try #require(caught, "the fexit program loaded although the kernel lacks tracing programs")
        let message = error.description
        var errno: Errno?
        if case .program(let programError) = error.reason { errno = programError.syscallError?.errno }
        #expect(errno == .notPermitted, "\(message)")
        #expect(message.contains("not permitted to load a program of type 26"), "\(message)")
        #expect(message.contains("capabilities held: "), "\(message)")
        #expect(message.contains("missing: "), "\(message)")
        #expect(message.contains("kernel lockdown: "), "\(message)")
        #expect(message.contains("charged to the memory cgroup"), "\(message)")
        #expect(!message.contains("RLIMIT_MEMLOCK"), "\(message)")
        print("fexit refused: \(message)")
    }

    static var usdtHeaderAvailable: Bool {
        access("/usr/include/bpf/usdt.bpf.h", R_OK) == 0 && Toolchain.tool("clang") != nil
    }

    /// A USDT handler using libbpf's `<bpf/usdt.bpf.h>` (weak hidden functions, weak maps, the
    /// `LINUX_HAS_BPF_COOKIE` kconfig extern), compiled here from testdata/tools/usdt_user.bpf.c.
    @Test(.enabled(if: usdtHeaderAvailable, "needs libbpf's usdt.bpf.h (apt-get install libbpf-dev)"))
    func usdtHeaderLoads() throws {
        let object = "/tmp/swift-ebpf-usdt-user-\(getpid()).o"
        defer { unlink(object) }
        let clang = try #require(Toolchain.tool("clang"))
        let build = try runSubprocess(
            clang,
            ["-target", "bpfel", "-O2", "-g", "-D__TARGET_ARCH_x86", "-I/usr/include/x86_64-linux-gnu",
             "-c", TestData.path("tools/usdt_user.bpf.c"), "-o", object])
        try #require(build.status == 0, "clang: \(build.text)")
        let spec = try CollectionSpec(elfFile: object)
        for name in ["bpf_usdt_arg", "bpf_usdt_arg_cnt", "bpf_usdt_cookie"] {
            #expect(spec.subprograms[name]?.isHidden == true, "\(name)")
        }
        #expect(spec.programs["on_probe"]?.type == .kprobe)
        let collection = try LoadedCollection(spec: spec)
        collection.close()
    }
}
}
