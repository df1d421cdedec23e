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
    }

    @Test func unknownValuesRoundTrip() {
        let future = MapType(rawValue: 4000)
        #expect(future.rawValue == 4000)
        #expect(future.description == "BPF_MAP_TYPE_(4000)")
        #expect(ProgramType(rawValue: 999).description == "BPF_PROG_TYPE_(999)")
    }
}
