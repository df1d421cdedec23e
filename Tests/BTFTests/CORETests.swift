import EBPFASM
import EBPFBTF
import Testing
import TestSupport

/// Every CO-RE relocation kind of the testdata programs, relocated against the committed BTF of
/// Linux 6.1 and 6.18. Expected values were read off `bpftool btf dump` of the same blobs.
@Suite("CO-RE against 6.1 and 6.18")
struct CORETests {
    static let section = "tp_btf/sched_process_exec"

    @Test(arguments: COREFixtures.orders)
    func fieldsOn61(order: String) throws {
        let object = try COREFixtures.Object("core_fields", order)
        try COREFixtures.checkRelocations(object, Self.section, kernel: "6.1", expected: Self.fields(
            pid: 2416, realParent: 2432, tgid: 2420, comm3: 2979,
            tsflags: .access(offset: 608, size: .halfWord), mmapMiss: .access(offset: 20, size: .word),
            gsoType: .access(offset: 496, size: .word), tsflagsSize: 2, mmCIDExists: 0, ifindexSigned: 1))
    }

    @Test(arguments: COREFixtures.orders)
    func fieldsOn618(order: String) throws {
        let object = try COREFixtures.Object("core_fields", order)
        // sk_tsflags grew from u16 to u32 and mmap_miss shrank to u16: the loads change size.
        // sk_gso_type went from int to u16: a signed field cannot change size, so it is poisoned.
        try COREFixtures.checkRelocations(object, Self.section, kernel: "6.18", expected: Self.fields(
            pid: 1264, realParent: 1280, tgid: 1268, comm3: 1755,
            tsflags: .access(offset: 360, size: .word), mmapMiss: .access(offset: 22, size: .halfWord),
            gsoType: .poisoned, tsflagsSize: 4, mmCIDExists: 1, ifindexSigned: 0))
    }

    static func fields(
        pid: Int16, realParent: Int16, tgid: Int16, comm3: Int16, tsflags: ExpectedPatch, mmapMiss: ExpectedPatch,
        gsoType: ExpectedPatch, tsflagsSize: Int64, mmCIDExists: Int64, ifindexSigned: Int64
    ) -> [String: ExpectedPatch] {
        [
            "byte_off struct task_struct::pid": .access(offset: pid, size: .word),
            "byte_off struct task_struct::real_parent": .access(offset: realParent, size: .doubleWord),
            "byte_off struct task_struct::tgid": .access(offset: tgid, size: .word),
            "byte_off struct task_struct::comm[3]": .access(offset: comm3, size: .byte),
            "byte_off struct sock::sk_tsflags": tsflags,
            "byte_off struct file_ra_state::mmap_miss": mmapMiss,
            "byte_off struct sock::sk_gso_type": gsoType,
            "byte_off struct task_struct::flags": .constant(44),
            "byte_sz struct sock::sk_tsflags": .constant(tsflagsSize),
            "field_exists struct task_struct___new::mm_cid": .constant(mmCIDExists),
            "signed struct net::ifindex": .constant(ifindexSigned),
            "field_exists struct task_struct___missing::no_such_field": .constant(0),
            "byte_off struct task_struct___missing::no_such_field": .poisoned,
            "byte_sz struct task_struct___missing::no_such_field": .poisoned,
            "signed struct task_struct___missing::no_such_field": .poisoned,
        ]
    }

    @Test(arguments: COREFixtures.orders, ["6.1", "6.18"])
    func bitfields(order: String, kernel: String) throws {
        let object = try COREFixtures.Object("core_bitfields", order)
        let old = kernel == "6.1"
        try COREFixtures.checkRelocations(object, Self.section, kernel: kernel, expected: [
            "byte_off struct task_struct::in_execve": .constant(old ? 2344 : 1192),
            "byte_sz struct task_struct::in_execve": .constant(4),
            "lshift_u64 struct task_struct::in_execve": .constant(old ? 61 : 60),
            "rshift_u64 struct task_struct::in_execve": .constant(63),
            "signed struct task_struct::in_execve": .constant(0),
            "byte_off struct task_struct::sched_reset_on_fork": .constant(old ? 2340 : 1188),
            "byte_sz struct task_struct::sched_reset_on_fork": .constant(4),
            "lshift_u64 struct task_struct::sched_reset_on_fork": .constant(63),
            "rshift_u64 struct task_struct::sched_reset_on_fork": .constant(63),
            "signed struct task_struct::sched_reset_on_fork": .constant(0),
            "lshift_u64 struct task_struct___missing::no_such_bit": .poisoned,
            "rshift_u64 struct task_struct___missing::no_such_bit": .poisoned,
        ])
    }

    @Test(arguments: COREFixtures.orders, ["6.1", "6.18"])
    func types(order: String, kernel: String) throws {
        let object = try COREFixtures.Object("core_types", order)
        let old = kernel == "6.1"
        let localTaskStruct = try #require(object.spec.typeID(named: "task_struct", kind: .struct))
        try COREFixtures.checkRelocations(object, "raw_tp/sys_enter", kernel: kernel, expected: [
            "local_type_id struct task_struct": .constant(Int64(localTaskStruct.rawValue)),
            "target_type_id struct task_struct": .constant(old ? 193 : 114),
            "target_type_id struct no_such_type": .constant(0),
            "type_exists struct bpf_token": .constant(old ? 0 : 1),
            "type_size struct task_struct": .constant(old ? 9792 : 3264),
            "type_matches struct bpf_token___empty": .constant(old ? 0 : 1),
            "type_matches struct file_ra_state___old": .constant(old ? 1 : 0),
            "type_exists struct no_such_type": .constant(0),
            "type_size struct no_such_type": .constant(0),
            "type_matches typedef no_such_typedef_t": .constant(0),
            "type_size struct bpf_token": .constant(old ? 0 : 88),
        ])
    }

    @Test(arguments: COREFixtures.orders, ["6.1", "6.18"])
    func enums(order: String, kernel: String) throws {
        let object = try COREFixtures.Object("core_enums", order)
        let old = kernel == "6.1"
        try COREFixtures.checkRelocations(object, "raw_tp/sys_enter", kernel: kernel, expected: [
            "enumval_value enum cpuhp_state::CPUHP_PERF_X86_PREPARE": .constant(old ? 3 : 2),
            "enumval_value enum node_stat_item::NR_SHMEM": .constant(old ? 23 : 22),
            "enumval_exists enum bpf_map_type___new::BPF_MAP_TYPE_ARENA___new": .constant(old ? 0 : 1),
            "enumval_exists enum bpf_map_type___missing::BPF_MAP_TYPE_NO_SUCH_MAP": .constant(0),
            "enumval_value enum bpf_map_type___missing::BPF_MAP_TYPE_NO_SUCH_MAP": .poisoned,
        ])
    }
}
