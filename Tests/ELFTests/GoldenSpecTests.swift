import EBPFASM
import EBPFBTF
import EBPFCollection
import EBPFELF
import Testing
import TestSupport

/// Whole expected specs for the testdata objects, in both byte orders.
@Suite("Golden specs", .checksFileDescriptorLeaks)
struct GoldenSpecTests {
    static let objects = [
        "externs", "globals", "isa_v3", "loops", "maps_btf", "maps_iproute2", "maps_legacy", "maps_nested",
        "minimal", "sections", "sk_lookup", "struct_ops", "subprog", "tcp_ca", "tcp_ca_plain", "tracing_bpf2bpf",
        "tracing_fmod_ret", "tracing_target",
    ]

    @Test(arguments: objects)
    func bothByteOrdersGiveEqualSpecs(name: String) throws {
        let (little, big) = try specs(name)
        #expect(little.byteOrder == .littleEndian)
        #expect(big.byteOrder == .bigEndian)
        #expect(orderIndependent(little) == orderIndependent(big))
        // Contents agree once each side's integers are read in its own order: variables compare equal.
        for (variable, _) in little.variables {
            #expect(try little.value(ofVariable: variable).count == big.value(ofVariable: variable).count)
        }
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func legacyMapsKprobe(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("maps_legacy-\(order == .littleEndian ? "el" : "eb").o"))
        #expect(
            spec.maps == [
                "execve_counts": MapSpec(name: "execve_counts", type: .array, keySize: 4, valueSize: 8, maxEntries: 1),
                "pid_seen": MapSpec(name: "pid_seen", type: .hash, keySize: 4, valueSize: 1, maxEntries: 128),
            ])
        #expect(spec.variables.isEmpty)
        #expect(spec.subprograms.isEmpty)
        let program = try #require(spec.programs["count_execve"])
        #expect(spec.programs.count == 1)
        #expect(program.sectionName == "kprobe/sys_execve")
        #expect(program.type == .kprobe)
        #expect(program.attachType == nil)
        #expect(program.attachTarget == "sys_execve")
        #expect(program.license == "GPL")
        #expect(program.kernelVersion == 0xFFFF_FFFE)
        #expect(program.instructions.first?.symbol == "count_execve")
        #expect(references(program).map { $0.split(separator: ":")[1] } == ["execve_counts", "pid_seen"])
        #expect(program.instructions.filter { $0.symbolReference != nil }.allSatisfy { $0.loadImmediateSource == .mapFileDescriptor })
        #expect(program.lineInfos.count > 0)
        #expect(program.functionInfos.map(\.instructionOffset) == [0])
    }

    @Test(arguments: ["el", "eb"])
    func btfMaps(order: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("maps_btf-\(order).o"))
        let types = try #require(spec.types)
        func typeID(_ map: String, key: Bool) -> BTFTypeID? { key ? spec.maps[map]?.keyType : spec.maps[map]?.valueType }
        let u32 = try #require(typeID("start_times", key: true))
        let u64 = try #require(typeID("start_times", key: false))
        let event = try #require(types.typeID(named: "event", kind: .struct))
        #expect(
            spec.maps == [
                "start_times": MapSpec(name: "start_times", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1024, keyType: u32, valueType: u64),
                "last_events": MapSpec(name: "last_events", type: .array, keySize: 4, valueSize: 32, maxEntries: 4, keyType: u32, valueType: event),
                "per_cpu_counter": MapSpec(name: "per_cpu_counter", type: .percpuArray, keySize: 4, valueSize: 8, maxEntries: 1, keyType: u32, valueType: u64),
                "events": MapSpec(name: "events", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096),
                "pinned_lru": MapSpec(name: "pinned_lru", type: .lruHash, keySize: 8, valueSize: 4, maxEntries: 64, pinning: .byName, keyType: u64, valueType: u32),
            ])
        #expect(try types.name(of: u32) == "__u32")
        let program = try #require(spec.programs["record_execve"])
        #expect(program.type == .tracepoint)
        #expect(program.attachTarget == "syscalls/sys_enter_execve")
        #expect(
            Set(references(program).map { String($0.split(separator: ":")[1]) })
                == ["start_times", "per_cpu_counter", "last_events", "events", "pinned_lru"])
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func nestedMapsAndProgramArrays(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("maps_nested-\(order == .littleEndian ? "el" : "eb").o"))
        let outer = try #require(spec.maps["outer"])
        #expect(outer.type == .arrayOfMaps)
        #expect(outer.keySize == 4 && outer.valueSize == 4 && outer.maxEntries == 4)
        #expect(outer.contents == [MapEntry(key: encoded(UInt32(0), order), value: .map("inner_a")), MapEntry(key: encoded(UInt32(2), order), value: .map("inner_b"))])
        let inner = try #require(outer.innerMap)
        #expect(inner.name == "outer.inner")
        #expect(inner.type == .array && inner.keySize == 4 && inner.valueSize == 8 && inner.maxEntries == 1)
        let table = try #require(spec.maps["jump_table"])
        #expect(table.type == .progArray && table.keySize == 4 && table.valueSize == 4 && table.maxEntries == 2)
        #expect(table.contents == [MapEntry(key: encoded(UInt32(1), order), value: .program("tail_one"))])
        #expect(spec.maps["sized"] == MapSpec(name: "sized", type: .hash, keySize: 8, valueSize: 16, maxEntries: 128, flags: [.noPreallocation, .numaNode], numaNode: 1))
        let bloom = try #require(spec.maps["bloom"])
        #expect(bloom.type == .bloomFilter && bloom.keySize == 0 && bloom.valueSize == 4 && bloom.mapExtra == 3)
        #expect(Set(spec.programs.keys) == ["dispatch", "tail_one"])
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func iproute2Maps(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("maps_iproute2-\(order == .littleEndian ? "el" : "eb").o"))
        let template = MapSpec(name: "inner_template", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
        #expect(
            spec.maps == [
                "flow_counts": MapSpec(name: "flow_counts", type: .hash, keySize: 4, valueSize: 8, maxEntries: 256, flags: .noPreallocation, pinning: .byName),
                "inner_template": template,
                "outer": MapSpec(name: "outer", type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 4, pinning: .iproute2(1), innerMap: template),
            ])
        #expect(spec.programs["count_flows"]?.type == .schedCls)
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func globalData(order: ByteOrder) throws {
        var spec = try CollectionSpec(elfFile: TestData.path("globals-\(order == .littleEndian ? "el" : "eb").o"))
        let key: [UInt8] = [0, 0, 0, 0]
        let types = try #require(spec.types)
        func datasec(_ name: String) -> BTFTypeID? { types.typeID(named: name, kind: .dataSection) }
        #expect(
            spec.maps[".rodata"]
                == MapSpec(
                    name: ".rodata", type: .array, keySize: 4, valueSize: 12, maxEntries: 1, flags: [.readOnlyProgram, .mmapable],
                    contents: [MapEntry(key: key, value: .bytes(encoded(UInt32(0), order) + Array("hello".utf8) + [0, 0, 0]))],
                    freeze: true, valueType: datasec(".rodata")))
        #expect(
            spec.maps[".data"]
                == MapSpec(
                    name: ".data", type: .array, keySize: 4, valueSize: 8, maxEntries: 1, flags: .mmapable,
                    contents: [MapEntry(key: key, value: .bytes(encoded(UInt32(16), order) + encoded(UInt32(3), order)))],
                    valueType: datasec(".data")))
        #expect(
            spec.maps[".bss"]
                == MapSpec(
                    name: ".bss", type: .array, keySize: 4, valueSize: 16, maxEntries: 1, flags: .mmapable,
                    contents: [MapEntry(key: key, value: .bytes([UInt8](repeating: 0, count: 16)))], valueType: datasec(".bss")))
        #expect(spec.maps[".data.custom"]?.contents == [MapEntry(key: key, value: .bytes(encoded(UInt64(7), order)))])
        #expect(Set(spec.variables.keys) == ["target_pid", "greeting", "packets_seen", "bytes_seen", "sample_rate", "custom_counter", "hidden_state"])
        let targetPID = try #require(spec.variables["target_pid"])
        #expect(targetPID.mapName == ".rodata" && targetPID.offset == 0 && targetPID.size == 4 && targetPID.isReadOnly)
        #expect(try types.name(of: try #require(targetPID.typeID)) == "")  // volatile const __u32: the qualifier is anonymous
        #expect(spec.variables["hidden_state"] == VariableSpec(name: "hidden_state", mapName: ".data", offset: 4, size: 4, isReadOnly: false, typeID: spec.variables["hidden_state"]?.typeID))

        // Reading and setting before load.
        #expect(try spec.value(ofVariable: "sample_rate", as: UInt32.self) == 16)
        try spec.setVariable("target_pid", to: UInt32(4321))
        #expect(try spec.value(ofVariable: "target_pid", as: UInt32.self) == 4321)
        #expect(spec.maps[".rodata"]?.contents.first?.value == .bytes(encoded(UInt32(4321), order) + Array("hello".utf8) + [0, 0, 0]))
        try spec.setVariable("greeting", to: Array("bye\0\0\0\0\0".utf8))
        #expect(try spec.value(ofVariable: "greeting") == Array("bye\0\0\0\0\0".utf8))
        try spec.setVariable("bytes_seen", to: UInt64(1) << 40)
        #expect(try spec.value(ofVariable: "bytes_seen", as: UInt64.self) == 1 << 40)
        #expect(throws: VariableError.sizeMismatch(variable: "target_pid", size: 4, given: 8)) {
            try spec.setVariable("target_pid", to: UInt64(1))
        }
        #expect(throws: VariableError.unknownVariable("nope")) { try spec.setVariable("nope", to: [1]) }
        spec.maps[".data"] = nil
        #expect(throws: VariableError.missingMapContents(variable: "sample_rate", map: ".data")) {
            try spec.value(ofVariable: "sample_rate")
        }

        let program = try #require(spec.programs["count_packets"])
        let dataReferences = program.instructions.filter { $0.loadImmediateSource == .mapValue }
        #expect(Set(dataReferences.compactMap(\.symbolReference)) == [".bss", ".data", ".data.custom", ".rodata"])
        // The offset into the section sits in the upper half of the constant.
        #expect(dataReferences.contains { $0.symbolReference == ".data" && $0.constant == Int64(4) << 32 })
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func subprogramsAreReferences(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("subprog-\(order == .littleEndian ? "el" : "eb").o"))
        #expect(Set(spec.programs.keys) == ["calls_subprograms", "calls_loop"])
        #expect(Set(spec.subprograms.keys) == ["mix", "twice", "global_helper", "loop_body"])
        #expect(spec.subprograms.values.allSatisfy { $0.type == .unspec && $0.sectionName == ".text" })
        let caller = try #require(spec.programs["calls_subprograms"])
        let calls = caller.instructions.filter(\.isSubprogramCall)
        #expect(calls.map(\.symbolReference) == ["twice", "global_helper"])
        #expect(calls.allSatisfy { $0.constant == -1 })
        #expect(spec.subprograms["twice"]?.instructions.filter(\.isSubprogramCall).map(\.symbolReference) == ["mix", "mix"])
        let loop = try #require(spec.programs["calls_loop"])
        let callback = try #require(loop.instructions.first { $0.loadImmediateSource == .function })
        #expect(callback.symbolReference == "loop_body")
        #expect(loop.attachType == .xdp)
        // Each function carries only its own instructions and BTF info rebased to its start.
        #expect(spec.subprograms["mix"]?.instructions.first?.symbol == "mix")
        #expect(spec.subprograms.values.allSatisfy { $0.functionInfos.map(\.instructionOffset) == [0] })
        for function in Array(spec.subprograms.values) + Array(spec.programs.values) {
            let size = function.instructions.reduce(0) { $0 + $1.byteCount }
            #expect(!function.lineInfos.isEmpty)
            #expect(function.lineInfos.allSatisfy { Int($0.instructionOffset) < size }, "\(function.name)")
        }
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func externs(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("externs-\(order == .littleEndian ? "el" : "eb").o"))
        let kconfig = try #require(spec.maps[".kconfig"])
        #expect(kconfig.type == .array && kconfig.valueSize == 29 && kconfig.flags == [.readOnlyProgram, .mmapable] && kconfig.freeze)
        let layout = spec.variables.values.filter { $0.mapName == ".kconfig" }.sorted { $0.offset < $1.offset }.map { "\($0.name)@\($0.offset)+\($0.size)" }
        #expect(layout == ["CONFIG_HZ@0+8", "LINUX_KERNEL_VERSION@8+4", "CONFIG_BPF_SYSCALL@12+1", "CONFIG_DEFAULT_HOSTNAME@13+16"])
        #expect(Set(spec.kernelSymbols.keys) == ["bpf_prog_active", "typed_counter", "bpf_ktime_get_coarse_ns_kfunc", "maybe_kfunc"])
        #expect(spec.kernelSymbols["bpf_prog_active"]?.kind == .variable)
        #expect(spec.kernelSymbols["bpf_prog_active"]?.isWeak == false)
        #expect(spec.kernelSymbols["typed_counter"]?.isWeak == true)
        #expect(spec.kernelSymbols["maybe_kfunc"]?.kind == .function)
        #expect(spec.kernelSymbols["maybe_kfunc"]?.isWeak == true)
        #expect(spec.kernelSymbols["bpf_ktime_get_coarse_ns_kfunc"]?.isWeak == false)
        let program = try #require(spec.programs["read_externs"])
        let instructions = program.instructions
        #expect(instructions.contains { $0.symbolReference == ".kconfig" && $0.loadImmediateSource == .mapValue && $0.constant == Int64(8) << 32 })
        #expect(instructions.contains { $0.symbolReference == "bpf_ktime_get_coarse_ns_kfunc" && $0.isKernelFunctionCall })
        #expect(instructions.contains { $0.symbolReference == "typed_counter" && $0.loadImmediateSource == .btfID })
        #expect(instructions.contains { $0.symbolReference == "bpf_prog_active" && $0.loadImmediateSource == .value })
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func structOps(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("struct_ops-\(order == .littleEndian ? "el" : "eb").o"))
        let plain = try #require(spec.maps["plain_ops"])
        #expect(plain.type == .structOps && plain.keySize == 4 && plain.valueSize == 40 && plain.maxEntries == 1 && plain.flags == [])
        #expect(plain.structOpsPrograms == ["init": "demo_init", "release": "demo_release"])
        guard case .bytes(let bytes)? = plain.contents.first?.value else {
            Issue.record("plain_ops has no initial value")
            return
        }
        #expect(Array(bytes[16..<20]) == encoded(UInt32(7), order))
        #expect(Array(bytes[20..<25]) == Array("plain".utf8))
        let linked = try #require(spec.maps["linked_ops"])
        #expect(linked.flags == .link)
        #expect(linked.structOpsPrograms == ["init": "demo_init"])
        #expect(spec.programs["demo_init"]?.type == .structOps)
        #expect(spec.programs["demo_release"]?.flags == .sleepable)
        // The name after `struct_ops.s/` is ignored (as by libbpf and cilium/ebpf): the target is
        // the member the struct_ops map puts the program in.
        #expect(spec.programs["demo_release"]?.attachTarget == "release")
    }

    /// The objects the Link tests load: what each program attaches to, and the socket map.
    @Test(arguments: ["el", "eb"])
    func linkTestObjects(order: String) throws {
        let modifyReturn = try CollectionSpec(elfFile: TestData.path("tracing_fmod_ret-\(order).o"))
        let answer = try #require(modifyReturn.programs["answer_prctl"])
        #expect(answer.type == .tracing && answer.attachType == .modifyReturn && answer.attachTarget == "security_task_prctl")
        let record = try #require(modifyReturn.programs["record_prctl"])
        #expect(record.type == .tracing && record.attachType == .traceFExit && record.attachTarget == "security_task_prctl")
        #expect(Set(modifyReturn.variables.keys) == ["target_thread", "target_option", "answer", "last_return", "exits"])

        let target = try CollectionSpec(elfFile: TestData.path("tracing_target-\(order).o"))
        #expect(target.programs["measure_packet"]?.type == .socketFilter)
        #expect(target.programs["measure_packet"]?.functionInfos.count == 1, "fentry on a program needs its BTF function")
        let tracers = try CollectionSpec(elfFile: TestData.path("tracing_bpf2bpf-\(order).o"))
        #expect(tracers.programs["count_entry"]?.attachType == .traceFEntry)
        #expect(tracers.programs["record_exit"]?.attachType == .traceFExit)
        #expect(tracers.programs.values.allSatisfy { $0.attachTarget == "measure_packet" })

        let lookup = try CollectionSpec(elfFile: TestData.path("sk_lookup-\(order).o"))
        let steer = try #require(lookup.programs["steer_to_listener"])
        #expect(steer.type == .skLookup && steer.attachType == .skLookup)
        let listeners = try #require(lookup.maps["listeners"])
        #expect(listeners.type == .sockmap && listeners.keySize == 4 && listeners.valueSize == 8 && listeners.maxEntries == 1)
        #expect(references(steer).map { $0.split(separator: ":")[1] } == [".rodata", "listeners", ".bss"])
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func congestionControl(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("tcp_ca-\(order == .littleEndian ? "el" : "eb").o"))
        let map = try #require(spec.maps["swift_ca"])
        // The object's own struct: name[16], flags, not_in_kernel, then four function pointers.
        #expect(map.type == .structOps && map.keySize == 4 && map.valueSize == 56 && map.maxEntries == 1 && map.flags == .link)
        #expect(
            map.structOpsPrograms == [
                "init": "swift_ca_init", "ssthresh": "swift_ca_ssthresh", "cong_avoid": "swift_ca_avoid",
                "undo_cwnd": "swift_ca_undo",
            ])
        let types = try #require(spec.types)
        #expect(map.valueType == types.typeID(named: "tcp_congestion_ops", kind: .struct))
        guard case .bytes(let bytes)? = map.contents.first?.value else {
            Issue.record("swift_ca has no initial value")
            return
        }
        #expect(bytes.count == 56)
        #expect(Array(bytes[0..<9]) == Array("swift_ca".utf8) + [0])
        #expect(Array(bytes[16..<20]) == encoded(UInt32(1), order))
        #expect(bytes[20...].allSatisfy { $0 == 0 }, "not_in_kernel is zero and the pointers are relocations")
        #expect(Set(spec.programs.keys) == ["swift_ca_init", "swift_ca_ssthresh", "swift_ca_avoid", "swift_ca_undo"])
        #expect(spec.programs.values.allSatisfy { $0.type == .structOps && $0.license == "GPL" })
        #expect(spec.variables["init_calls"]?.mapName == ".bss")
    }

    @Test(arguments: [ByteOrder.littleEndian, .bigEndian])
    func congestionControlWithoutLink(order: ByteOrder) throws {
        let spec = try CollectionSpec(elfFile: TestData.path("tcp_ca_plain-\(order == .littleEndian ? "el" : "eb").o"))
        let map = try #require(spec.maps["swift_ca_plain"])
        // `.struct_ops`, not `.struct_ops.link`: no BPF_F_LINK. Four pointers, flags, name[16].
        #expect(map.type == .structOps && map.keySize == 4 && map.valueSize == 56 && map.maxEntries == 1 && map.flags == [])
        #expect(
            map.structOpsPrograms == [
                "init": "plain_ca_init", "ssthresh": "plain_ca_ssthresh", "cong_avoid": "plain_ca_avoid",
                "undo_cwnd": "plain_ca_undo",
            ])
        let types = try #require(spec.types)
        #expect(map.valueType == types.typeID(named: "tcp_congestion_ops", kind: .struct))
        guard case .bytes(let bytes)? = map.contents.first?.value else {
            Issue.record("swift_ca_plain has no initial value")
            return
        }
        #expect(bytes.count == 56)
        #expect(bytes[0..<32].allSatisfy { $0 == 0 }, "the pointers are relocations")
        #expect(Array(bytes[32..<36]) == encoded(UInt32(1), order))
        #expect(Array(bytes[36..<51]) == Array("swift_ca_plain".utf8) + [0])
        #expect(Set(spec.programs.keys) == ["plain_ca_init", "plain_ca_ssthresh", "plain_ca_avoid", "plain_ca_undo"])
        #expect(spec.programs.values.allSatisfy { $0.type == .structOps && $0.license == "GPL" })
        #expect(spec.variables["plain_init_calls"]?.mapName == ".bss")
    }
}
