import EBPFBTF
import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

/// Tiers 2 and 3 of CO-RE: the testdata CO-RE programs relocated for the running kernel, loaded
/// and run. On the host that is 6.18; `Scripts/vm-test.sh` runs the same suite in Debian's 6.1 and
/// 6.12 (`EBPF_TEST_KERNEL=vm-6.1`, `vm-6.12`), where the expected values are theirs.
extension LoaderSuites {
@Suite("CO-RE loads", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct CORELoadTests {
    /// The task-reading program reports what this thread knows about itself.
    @Test func taskFieldsMatchTheTestProcess() throws {
        var spec = try testdataSpec("core_task")
        let thread = UInt64(UInt32(getpid())) << 32 | UInt64(UInt32(gettid()))
        try spec.setVariable("target_pid_tgid", to: thread)
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        let run = try collection.program("read_task").testRun(context: rawTracepointContext)
        #expect(run.returnValue == 0)
        #expect(try collection.variable("seen").get(as: UInt32.self) == 1)
        #expect(try collection.variable("task_pid").get(as: Int32.self) == gettid())
        #expect(try collection.variable("task_tgid").get(as: Int32.self) == getpid())
        #expect(try collection.variable("parent_tgid").get(as: Int32.self) == getppid())
        #expect(try collection.variable("task_comm").string() == currentThreadName())
    }

    /// Another thread's run is filtered out by the constant set before loading.
    @Test func otherThreadsAreIgnored() throws {
        var spec = try testdataSpec("core_task")
        try spec.setVariable("target_pid_tgid", to: UInt64(1) << 32 | 1)
        let collection = try LoadedCollection(spec: spec)
        defer { collection.close() }
        _ = try collection.program("read_task").testRun(context: rawTracepointContext)
        #expect(try collection.variable("seen").get(as: UInt32.self) == 0)
    }

    /// Type relocations: ids, existence, sizes and matches as libbpf computes them for the kernel
    /// (testdata/core-golden/core_types-<kernel>.txt).
    @Test func typeRelocationsRunWithTheKernelsValues() throws {
        let collection = try LoadedCollection(spec: try testdataSpec("core_types"))
        defer { collection.close() }
        _ = try collection.program("types").testRun(context: rawTracepointContext)
        let out = try collection.variable("out").words()
        let vmlinux = try KernelBTF.cache.vmlinux()
        let taskStruct = try #require(vmlinux.typeID(named: "task_struct", kind: .struct))
        #expect(out[0] == 5)  // the local id
        #expect(out[1] == UInt64(taskStruct.rawValue))
        #expect(out[6] == 0 && out[7] == 0 && out[8] == 0 && out[9] == 0)  // no_such_type, no_such_typedef_t
        switch TestKernel.current {
        case .host:
            #expect(Array(out[0...5]) + [out[10]] == [5, 114, 1, 3264, 1, 0, 88])
        case .vm61:
            // struct bpf_token arrived in 6.9.
            #expect(Array(out[0...5]) + [out[10]] == [5, 193, 0, 9792, 0, 1, 0])
        case .vm612:
            // Read off `bpftool btf dump` in the guest: task_struct is [112] of 9792 bytes,
            // bpf_token 88 bytes, and file_ra_state's mmap_miss still an unsigned int.
            #expect(Array(out[0...5]) + [out[10]] == [5, 112, 1, 9792, 1, 1, 88])
        }
    }

    /// Enum relocations; the missing enumerator's read is guarded by its existence check, so the
    /// poisoned instruction is dead code and the program loads.
    @Test func enumRelocationsRunWithTheKernelsValues() throws {
        let collection = try LoadedCollection(spec: try testdataSpec("core_enums"))
        defer { collection.close() }
        _ = try collection.program("enums").testRun(context: rawTracepointContext)
        let out = try collection.variable("out").words()
        switch TestKernel.current {
        case .host: #expect(Array(out[0...4]) == [2, 22, 1, 0, 0])
        case .vm61: #expect(Array(out[0...4]) == [3, 23, 0, 0, 0])
        case .vm612: #expect(Array(out[0...4]) == [3, 23, 1, 0, 0])
        }
    }

    /// `nf_conntrack_expect_policy` is built into the host's vmlinux; in the VMs' Debian kernels it
    /// lives in the nf_conntrack module's BTF, which the loader searches when vmlinux has no candidate.
    @Test func moduleTypesResolve() throws {
        if TestKernel.current != .host {
            _ = try? runSubprocess("/sbin/modprobe", ["nf_conntrack"])
            KernelBTF.cache.flush()
        }
        let collection = try LoadedCollection(spec: try testdataSpec("core_module"))
        defer { collection.close() }
        _ = try collection.program("module").testRun(context: rawTracepointContext)
        let out = try collection.variable("out").words()
        #expect(out[1] == 1, "nf_conntrack_expect_policy exists")
        #expect(out[0] == 4, "timeout follows max_expected")
    }

    /// A target BTF given in the options replaces the kernel's: relocated against 6.1's BTF, the
    /// program reports 6.1's values on the 6.18 host.
    @Test func targetBTFFromTheOptions() throws {
        let target = try BTFSpec(path: TestData.path("btf/vmlinux-6.1.btf"))
        var options = CollectionOptions()
        options.kernelTypes = target
        let collection = try LoadedCollection(spec: try testdataSpec("core_enums"), options: options)
        defer { collection.close() }
        _ = try collection.program("enums").testRun(context: rawTracepointContext)
        #expect(Array(try collection.variable("out").words()[0...3]) == [3, 23, 0, 0])
    }
}
}
