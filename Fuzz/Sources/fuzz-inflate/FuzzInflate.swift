@testable import EBPFCollection
import FuzzDriver

/// Decodes arbitrary bytes as a gzip file and as a raw DEFLATE stream. Malformed input must end
/// in an `InflateError`; output never passes `Inflate.outputLimit`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for result in [Result { () throws(InflateError) in try Inflate.gunzip(bytes) },
                   Result { () throws(InflateError) in try Inflate.inflate(bytes, from: min(10, bytes.count)) }] {
        if case .success(let output) = result, output.count > Inflate.outputLimit {
            FuzzDriver.fail("\(output.count) bytes of output, above the limit")
        }
    }
    return 0
}

/// `/proc/config.gz` and the gzip files Debian installs under /usr/share/doc (changelogs:
/// stored, fixed and dynamic Huffman blocks from a real compressor), up to 64 of them.
func inflateSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    if let config = FuzzDriver.readFile("/proc/config.gz") { seeds.append(("config.gz", config)) }
    for package in FuzzDriver.directoryEntries("/usr/share/doc") {
        guard seeds.count < 64 else { break }
        let directory = "/usr/share/doc/" + package
        for name in FuzzDriver.directoryEntries(directory) where name.hasSuffix(".gz") {
            if let bytes = FuzzDriver.readFile(directory + "/" + name), bytes.count <= 64 * 1024 {
                seeds.append((package + "-" + name, bytes))
            }
        }
    }
    return seeds
}

@_cdecl("fuzz_inflate_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzInflate, seeds: inflateSeeds)
}
