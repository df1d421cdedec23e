import Testing
import TestSupport

@Suite("Test kernel selection")
struct TestKernelTests {
    @Test func unsetIsTheHost() throws {
        #expect(try TestKernel.parse(nil).get() == .host)
    }

    @Test(arguments: TestKernel.allCases)
    func everyKernelIsNamedByItsRawValue(kernel: TestKernel) throws {
        #expect(try TestKernel.parse(kernel.rawValue).get() == kernel)
    }

    @Test func anUnknownNameIsAnError() {
        let result = TestKernel.parse("vm-5.15")
        #expect(throws: UnknownTestKernelError(value: "vm-5.15")) { try result.get() }
        guard case .failure(let error) = result else { return }
        #expect(error.description.hasPrefix("EBPF_TEST_KERNEL='vm-5.15' names no test kernel (known: host, vm-6.1"))
    }
}
