import EBPF
@testable import EBPFCollection
import FuzzDriver

/// The `.kconfig` externs of testdata/externs_load.c (bool, int, tristate enum, char array,
/// unsigned long long), whose BTF types pick each way `KernelConfig.encode` encodes a value.
let externs: (types: BTFSpec?, typeIDs: [BTFTypeID?]) = {
    guard let spec = try? CollectionSpec(elfFile: FuzzDriver.testdata + "/externs_load-el.o") else { return (nil, [nil]) }
    let typeIDs = spec.variables.values.filter { $0.mapName == KernelConfig.mapName }.sorted { $0.name < $1.name }
        .map(\.typeID)
    return (spec.types, typeIDs + [nil])
}()

/// Parses arbitrary bytes as a kernel `.config` and as `/proc/kallsyms`, then encodes every value
/// found for every extern type at a size the first input byte picks (0 to 15 bytes, including
/// sizes no C type has). Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKernelConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let text = Array(bytes.dropFirst())
    let values = KernelConfig.parse(text)
    _ = KernelConfig.parseKallsyms(text)
    let externSize = Int(first & 0x0f)
    for value in values.values.prefix(256) {
        for typeID in externs.typeIDs {
            if case .success(let encoded) = KernelConfig.encode(
                value, typeID: typeID, size: externSize, types: externs.types), encoded.count != externSize
            {
                FuzzDriver.fail("'\(value)' encoded to \(encoded.count) bytes for a \(externSize)-byte extern")
            }
        }
    }
    return 0
}

/// The host's kernel configurations (`/boot/config-*`, `/proc/config.gz` unpacked), a slice of
/// `/proc/kallsyms`, and small hand-written configurations that reach every value kind.
func kernelConfigSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    // Whole configurations are 250 KB: slices of 8 KB keep each run short.
    func slices(_ text: [UInt8], named name: String, prefix: UInt8) {
        for (number, start) in stride(from: 0, to: min(text.count, 64 * 1024), by: 8 * 1024).enumerated() {
            seeds.append(("\(name)-\(number)", [prefix] + Array(text[start..<min(start + 8 * 1024, text.count)])))
        }
    }
    for name in FuzzDriver.directoryEntries("/boot") where name.hasPrefix("config-") {
        if let text = FuzzDriver.readFile("/boot/" + name) { slices(text, named: name, prefix: 0x04) }
    }
    if let compressed = FuzzDriver.readFile("/proc/config.gz"), let text = try? Inflate.gunzip(compressed) {
        slices(text, named: "proc-config", prefix: 0x08)
    }
    if let kallsyms = FuzzDriver.readFile("/proc/kallsyms") {
        slices(Array(kallsyms.prefix(16 * 1024)), named: "kallsyms", prefix: 0x08)
    }
    let small = """
        CONFIG_BPF_SYSCALL=y
        # CONFIG_NF_CONNTRACK is not set
        CONFIG_NF_CONNTRACK=m
        CONFIG_HZ=250
        CONFIG_HZ=-1
        CONFIG_HZ=0xffffffffffffffff
        CONFIG_DEFAULT_HOSTNAME="(none)"
        CONFIG_DEFAULT_HOSTNAME="a"
        ffffffff81000000 T startup_64
        ffffffffc0000000 t helper\t[module]
        """
    for size: UInt8 in [0, 1, 2, 4, 8, 15] {
        seeds.append(("small-\(size)", [size] + Array(small.utf8)))
    }
    return seeds
}

@_cdecl("fuzz_kconfig_main")
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, callback: fuzzKernelConfig, seeds: kernelConfigSeeds)
}
