import EBPF
import FuzzDriver

/// Reads arbitrary bytes as an ELF file and walks everything the reader offers. Any outcome but
/// a crash is fine: malformed input must end in an `ELFError`. Seeds: the testdata objects and the
/// real-world corpus (`FuzzDriver.corpusObjects`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELFFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? ELFFile(bytes: bytes) else { return 0 }
    _ = try? file.symbols()
    _ = try? file.dynamicSymbols()
    for section in file.sections {
        _ = try? file.contents(of: section)
        _ = try? file.relocations(in: section)
        _ = try? file.notes(in: section)
    }
    return 0
}

@_cdecl("fuzz_elffile_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzELFFile, seeds: FuzzDriver.allObjects)
}
