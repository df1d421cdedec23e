import EBPFBTF
import Testing
import TestSupport

/// Module BTF as a CO-RE target: split BTF on top of vmlinux, searched only for types vmlinux
/// does not have.
@Suite("CO-RE against module BTF")
struct COREModuleTests {
    static func targets() throws -> [BTFSpec] {
        let vmlinux = try COREFixtures.kernel("6.1")
        let module = try BTFSpec(path: TestData.path("btf/nf_conntrack-6.1.btf"), base: vmlinux)
        return [vmlinux, module]
    }

    @Test(arguments: COREFixtures.orders)
    func typeOnlyInTheModuleResolvesThere(order: String) throws {
        let object = try COREFixtures.Object("core_module", order)
        let targets = try Self.targets()
        let relocator = CORERelocator(localSpec: object.spec, targets: targets)
        let relocations = object.relocations("raw_tp/sys_enter")
        try #require(relocations.count == 3)
        let timeout = try relocator.resolve(relocations[0])
        #expect(timeout.targetValue == 4)
        #expect(timeout.target == CORECandidate(targetIndex: 1, typeID: 100827, name: "struct nf_conntrack_expect_policy"))
        #expect(try relocator.resolve(relocations[1]).targetValue == 1)
        // file_system_type is in vmlinux (id 115) and duplicated in the module: vmlinux wins.
        let flags = try relocator.resolve(relocations[2])
        #expect(flags.targetValue == 8)
        #expect(flags.target?.targetIndex == 0)
        #expect(flags.target?.typeID == 115)

        // Without the module the type does not exist and its field offset is poisoned.
        let vmlinuxOnly = CORERelocator(localSpec: object.spec, targets: [targets[0]])
        #expect(try vmlinuxOnly.resolve(relocations[0]).isPoisoned)
        #expect(try vmlinuxOnly.resolve(relocations[1]).targetValue == 0)
    }
}
