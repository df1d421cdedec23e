import EBPFBTF
import EBPFELFFile
import EBPFSys
import Testing
import TestSupport

/// Loading BTF into the host kernel (Linux 6.18): `BPF_BTF_LOAD` needs `CAP_BPF`.
@Suite("BTF handle", .checksFileDescriptorLeaks)
struct BTFHandleTests {
    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func marshalledVmlinuxLoads() throws {
        let spec = try BTFSpec(path: KernelBTFTests.vmlinux)
        let bytes = try spec.marshal()
        let handle = try BTFHandle(bytes: bytes)
        let info = try handle.info()
        #expect(info.btfSize == UInt32(bytes.count))
        #expect(info.kernelBTF == 0)
        let id = try handle.id()
        #expect(id > 0)
        // What the kernel holds reads back as the same types (reading by id needs CAP_SYS_ADMIN).
        if Privileges.canAdminister {
            let loaded = try KernelBTF.load(id: id)
            #expect(try loaded.typeGraph() == (try spec.typeGraph()))
        }
        try handle.close()
        #expect(handle.isClosed)
        try handle.close()
        #expect(throws: BTFLoadError.self) { try handle.id() }
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func builderOutputLoadsAndDuplicates() throws {
        var builder = BTFBuilder()
        let int = try builder.add(BTFBuilderTests.int)
        try builder.add(.struct(BTFComposite(name: "pair", size: 8, members: [
            BTFMember(name: "a", type: int, bitOffset: 0), BTFMember(name: "b", type: int, bitOffset: 32),
        ])))
        let handle = try BTFHandle(builder: builder)
        var duplicate = try handle.duplicateDescriptor()
        let rawHandle = try handle.withDescriptor { $0.rawValue }
        #expect(duplicate.rawValue != rawHandle)
        let viaDuplicate = try Sys.objectInfo(of: duplicate, as: BTFInfo.self)
        #expect(viaDuplicate.id == (try handle.id()))
        try duplicate.close()
    }

    @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
    func rejectedBlobCarriesTheKernelLog() throws {
        var builder = BTFBuilder()
        let int = try builder.add(BTFBuilderTests.int)
        // A member past the end of its struct.
        try builder.add(.struct(BTFComposite(name: "broken", size: 4, members: [
            BTFMember(name: "far", type: int, bitOffset: 64)
        ])))
        do {
            _ = try BTFHandle(builder: builder)
            Issue.record("the kernel accepted a member past the end of its struct")
        } catch {
            guard case .rejected(let syscallError) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(syscallError.errno == .invalidArgument)
            let log = try #require(error.kernelLog)
            #expect(log.contains("broken") || log.contains("Member exceeds struct_size"), "log: \(log)")
            #expect("\(error)".contains("load BTF"))
        }
    }

    @Test func marshallingErrorsComeBeforeTheKernel() throws {
        var builder = BTFBuilder()
        try builder.add(.pointer(BTFPointer(target: 5)))
        do {
            _ = try BTFHandle(builder: builder)
            Issue.record("a dangling reference was loaded")
        } catch {
            guard case .marshalling(.typeIDOutOfRange(id: 1, referenced: 5, typeCount: 2)) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
    }
}
