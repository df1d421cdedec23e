import EBPF
import FuzzDriver

/// Reads arbitrary bytes as a BPF object into a `CollectionSpec`, then reads and writes every
/// variable. Any outcome but a crash is fine: malformed input must end in a `BPFObjectError` (or a
/// `VariableError` for a variable whose map was dropped). Seeds: the testdata objects and the
/// real-world corpus (`FuzzDriver.corpusObjects`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCollectionSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard var spec = try? CollectionSpec(elfBytes: bytes) else { return 0 }
    for (name, variable) in spec.variables {
        if let value = try? spec.value(ofVariable: name) {
            _ = try? spec.setVariable(name, to: value.reversed())
        }
        _ = try? spec.setVariable(name, to: [UInt8](repeating: 0xAB, count: Int(variable.size % 64)))
    }
    for program in spec.programs.values {
        _ = program.type.shortName
        _ = program.attachType?.shortName
    }
    return 0
}

@_cdecl("fuzz_collectionspec_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzCollectionSpec, seeds: FuzzDriver.allObjects)
}
