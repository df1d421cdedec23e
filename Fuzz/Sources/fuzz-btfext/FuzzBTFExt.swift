import EBPF
import FuzzDriver

/// Parses arbitrary bytes as a `.BTF` blob and a `.BTF.ext` section that goes with it. The input
/// is a 4-byte little-endian length, that many bytes of BTF, then the `.BTF.ext` bytes, so the
/// fuzzer mutates both and the references between them. Malformed input must end in an error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBTFExt(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard bytes.count >= 4 else { return 0 }
    let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
    guard length <= bytes.count - 4 else { return 0 }
    guard let spec = try? BTFSpec(bytes: bytes[4..<(4 + length)]) else { return 0 }
    guard let ext = try? BTFExt(bytes: Array(bytes[(4 + length)...]), spec: spec) else { return 0 }
    var total = 0
    for (_, infos) in ext.funcInfos {
        for info in infos { total &+= info.instructionIndex &+ Int(info.type.rawValue) }
    }
    for (_, infos) in ext.lineInfos {
        for info in infos { total &+= info.instructionIndex &+ info.fileName.utf8.count &+ info.line.utf8.count }
    }
    for (_, relocations) in ext.coreRelocations {
        for relocation in relocations {
            total &+= relocation.instructionIndex &+ relocation.accessString.utf8.count
            _ = try? spec.type(relocation.type)
        }
    }
    return total == Int.min ? 1 : 0
}

/// For each testdata and corpus object with both sections: length, `.BTF`, `.BTF.ext`.
func btfExtSeeds() -> [(name: String, bytes: [UInt8])] {
    FuzzDriver.allObjects().compactMap { name, bytes in
        guard let file = try? ELFFile(bytes: bytes),
            let btfSection = file.section(named: ".BTF"), let btf = try? file.contents(of: btfSection),
            let extSection = file.section(named: ".BTF.ext"), let ext = try? file.contents(of: extSection)
        else { return nil }
        let length = UInt32(btf.count)
        let prefix = (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        return (name + ".BTF+ext", prefix + Array(btf) + Array(ext))
    }
}

@_cdecl("fuzz_btfext_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzBTFExt, seeds: btfExtSeeds)
}
