import EBPFASM
import EBPFCollection
import EBPFELF
import TestSupport

/// Both byte orders of a testdata object, read into specs.
func specs(_ name: String) throws -> (little: CollectionSpec, big: CollectionSpec) {
    (try CollectionSpec(elfFile: TestData.path("\(name)-el.o")), try CollectionSpec(elfFile: TestData.path("\(name)-eb.o")))
}

/// An integer's bytes in a byte order, for expected map contents.
func encoded<Value: FixedWidthInteger>(_ value: Value, _ order: ByteOrder) -> [UInt8] {
    var bytes = (0..<MemoryLayout<Value>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    if order == .bigEndian { bytes.reverse() }
    return bytes
}

/// The spec with everything that legitimately depends on the byte order taken out: the byte order
/// itself and the bytes of map contents (compared separately against expected values).
func orderIndependent(_ spec: CollectionSpec) -> CollectionSpec {
    var copy = spec
    copy.byteOrder = .littleEndian
    for (name, map) in spec.maps {
        copy.maps[name]?.contents = map.contents.map { entry in
            var entry = entry
            entry.key = []
            if case .bytes(let bytes) = entry.value { entry.value = .bytes([UInt8](repeating: 0, count: bytes.count)) }
            return entry
        }
    }
    return copy
}

/// Every symbolic reference of a program: instruction index, referenced name and source field.
func references(_ program: ProgramSpec?) -> [String] {
    guard let program else { return [] }
    return program.instructions.enumerated().compactMap { index, instruction in
        instruction.symbolReference.map { "\(index):\($0):\(instruction.source.rawValue):\(instruction.constant)" }
    }
}
