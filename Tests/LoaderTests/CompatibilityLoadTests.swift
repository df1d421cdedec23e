import EBPFCollection
import EBPFELF
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
