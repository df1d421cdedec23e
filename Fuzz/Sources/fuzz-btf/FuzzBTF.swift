import EBPF
import FuzzDriver

/// Parses arbitrary bytes as BTF and uses everything the spec offers. Malformed input must end in
/// a `BTFError`. Input that decodes must also marshal, and re-parse to the same types: the
/// marshaller accepts everything the decoder produces.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBTF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let spec = try? BTFSpec(bytes: bytes) else { return 0 }
    let count = spec.typeCount
    // Lazy decoding and lookups on a sample of ids, before and after the whole graph exists.
    let step = max(1, count / 64)
    var id: UInt32 = 0
    while id <= count {
        let typeID = BTFTypeID(id)
        _ = try? spec.type(typeID)
        _ = try? spec.name(of: typeID)
        _ = try? spec.kindAndVlen(of: typeID)
        _ = try? spec.size(of: typeID)
        _ = try? spec.underlyingTypeID(of: typeID)
        if let name = try? spec.name(of: typeID), let kind = try? spec.kindAndVlen(of: typeID).kind {
            _ = spec.typeID(named: name, kind: kind)
        }
        id &+= step
    }
    _ = spec.typeIDs(named: "int")
    guard let graph = try? spec.typeGraph() else { return 0 }
    let marshalled: [UInt8]
    do {
        marshalled = try spec.marshal(byteOrder: spec.byteOrder == .littleEndian ? .bigEndian : .littleEndian)
    } catch {
        FuzzDriver.fail("a decoded spec did not marshal: \(error)")
    }
    guard let reparsed = try? BTFSpec(bytes: marshalled), let again = try? reparsed.typeGraph() else {
        FuzzDriver.fail("marshalled BTF did not parse")
    }
    guard again == graph else { FuzzDriver.fail("marshalled BTF decodes to different types") }
    // Sanitised graphs are what gets loaded into older kernels: they must marshal too.
    do {
        _ = try graph.sanitized(for: []).marshal()
    } catch {
        FuzzDriver.fail("a sanitised graph did not marshal: \(error)")
    }
    return 0
}

/// The `.BTF` sections of the testdata objects and of the real-world corpus, and two slices of the
/// host's vmlinux BTF in both byte orders.
func btfSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (name, bytes) in FuzzDriver.allObjects() {
        guard let file = try? ELFFile(bytes: bytes),
            let section = file.section(named: ".BTF"), let contents = try? file.contents(of: section)
        else { continue }
        seeds.append((name + ".BTF", Array(contents)))
    }
    for maxBytes in [16 * 1024, 120 * 1024] {
        guard let slice = vmlinuxSlice(maxBytes: maxBytes) else { continue }
        for byteOrder in [BTFByteOrder.littleEndian, .bigEndian] {
            if let bytes = try? slice.bytes(byteOrder: byteOrder) {
                seeds.append(("vmlinux-slice-\(maxBytes)-\(byteOrder).BTF", bytes))
            }
        }
    }
    return seeds
}

/// The first vmlinux types whose references can all be kept, renumbered into a builder: a valid
/// blob small enough for libFuzzer's input size limit.
func vmlinuxSlice(maxBytes: Int) -> BTFBuilder? {
    guard let spec = try? BTFSpec(path: "/sys/kernel/btf/vmlinux"), let graph = try? spec.typeGraph() else {
        return nil
    }
    var builder = BTFBuilder(deduplicatingTypes: false)
    var mapping: [BTFTypeID: BTFTypeID] = [.void: .void]
    for (index, type) in graph.types.enumerated().dropFirst() {
        let before = builder
        guard let mapped = type.mappingReferences({ mapping[$0] }), let id = try? builder.add(mapped) else { continue }
        if builder.types.count % 32 == 0, let size = try? builder.bytes().count, size > maxBytes {
            return before
        }
        mapping[BTFTypeID(UInt32(index))] = id
    }
    return builder
}

@_cdecl("fuzz_btf_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzBTF, seeds: btfSeeds)
}
