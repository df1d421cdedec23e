import EBPFELF
import EBPFELFFile
import Testing
import TestSupport

@Suite("BPF object file", .checksFileDescriptorLeaks)
struct BPFObjectFileTests {
    @Test(arguments: ["el", "eb"])
    func readsLicenseAndVersion(order: String) throws {
        let object = try BPFObjectFile(path: TestData.path("maps_legacy-\(order).o"))
        #expect(object.license == "GPL")
        let version = try #require(object.kernelVersion)
        #expect(version != 0)
        let other = try BPFObjectFile(path: TestData.path("maps_legacy-\(order == "el" ? "eb" : "el").o"))
        #expect(other.kernelVersion == version)
    }

    @Test func rejectsHostExecutables() throws {
        #expect(throws: BPFObjectError.notBPF(machine: 62)) { try BPFObjectFile(path: "/proc/self/exe") }
    }

    @Test func rejectsNonELF() {
        #expect(throws: BPFObjectError.elf(.notELF)) { try BPFObjectFile(bytes: Array("not an object at all, sorry".utf8) + [UInt8](repeating: 0, count: 64)) }
    }
}
