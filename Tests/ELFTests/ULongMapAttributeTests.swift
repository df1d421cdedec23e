import EBPFCollection
import EBPFELF
import Testing
import TestSupport

/// `__ulong(name, value)`, libbpf 1.4's macro for a 64-bit map attribute: an anonymous enum (an
/// enum64 when the value needs 64 bits) whose single enumerator is the value. libbpf reads it for
/// `map_extra` only.
@Suite("__ulong map attributes")
struct ULongMapAttributeTests {
    @Test(arguments: ["maps_ulong-el.o", "maps_ulong-eb.o"])
    func mapExtraIsReadFromTheEnum(name: String) throws {
        let spec = try CollectionSpec(elfFile: TestData.path(name))
        let arena = try #require(spec.maps["arena"])
        #expect(arena.type == .arena)
        #expect(arena.mapExtra == 1 << 44, "an enum64 value")
        #expect(arena.flags == .mmapable)
        #expect(arena.maxEntries == 4)
        #expect(arena.keySize == 0 && arena.valueSize == 0)
        let bloom = try #require(spec.maps["seen"])
        #expect(bloom.type == .bloomFilter)
        #expect(bloom.mapExtra == 3, "a 32-bit enum value")
        #expect(bloom.valueSize == 4)
    }

    @Test func bothByteOrdersAgree() throws {
        let (little, big) = try specs("maps_ulong")
        #expect(orderIndependent(little) == orderIndependent(big))
    }
}
