import EBPFCollection
import Testing

@Suite("Kernel object types")
struct KernelObjectTypeTests {
    @Test func knownValuesCarryTheKernelName() {
        #expect(MapType.hash.rawValue == 1)
        #expect(MapType.ringbuf.description == "BPF_MAP_TYPE_RINGBUF")
        #expect(MapType.arena.rawValue == 33)
        #expect(ProgramType.socketFilter.rawValue == 1)
        #expect(ProgramType.netfilter.description == "BPF_PROG_TYPE_NETFILTER")
        #expect(AttachType.traceUprobeSession.rawValue == 57)
        #expect(AttachType.cgroupINetIngress.description == "BPF_CGROUP_INET_INGRESS")
        #expect(LinkType.sockmap.rawValue == 14)
        #expect(LinkType.uprobeMulti.description == "BPF_LINK_TYPE_UPROBE_MULTI")
    }

    /// Values with two kernel names print the current one, not the deprecated spelling.
    @Test func aliasedValuesPrintTheCurrentName() {
        #expect(MapType.cgroupStorageDeprecated == MapType.cgroupStorage)
        #expect(MapType.cgroupStorageDeprecated.description == "BPF_MAP_TYPE_CGROUP_STORAGE")
        #expect(MapType.percpuCgroupStorage.description == "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE")
    }

    @Test func unknownValuesRoundTrip() {
        let future = MapType(rawValue: 4000)
        #expect(future.rawValue == 4000)
        #expect(future.description == "BPF_MAP_TYPE_(4000)")
        #expect(ProgramType(rawValue: 999).description == "BPF_PROG_TYPE_(999)")
        #expect(LinkType(rawValue: 99).description == "BPF_LINK_TYPE_(99)")
    }
}
