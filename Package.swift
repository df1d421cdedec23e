// swift-tools-version: 6.1
import PackageDescription

// swift-ebpf: a pure-Swift eBPF library. No package dependencies, by design.
// The module layering is described in ARCHITECTURE.md; each target below depends
// only on the targets listed before it.
let package = Package(
    name: "swift-ebpf",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EBPF", targets: ["EBPF"]),
        .executable(name: "ebpf", targets: ["ebpf"]),
    ],
    targets: [
        .target(name: "CEBPF", path: "Sources/CSys"),
        .target(name: "EBPFSys", dependencies: ["CEBPF"], path: "Sources/Sys"),
        .target(name: "EBPFELFFile", path: "Sources/ELFFile"),
        .target(name: "EBPFASM", path: "Sources/ASM"),
        .target(name: "EBPFBTF", dependencies: ["EBPFELFFile", "EBPFASM", "EBPFSys"], path: "Sources/BTF"),
        .target(name: "EBPFCollection", dependencies: ["EBPFSys", "EBPFASM", "EBPFBTF"], path: "Sources/Collection"),
        .target(name: "EBPFELF", dependencies: ["EBPFELFFile", "EBPFASM", "EBPFBTF", "EBPFCollection"], path: "Sources/ELF"),
        .target(name: "EBPFLink", dependencies: ["EBPFCollection", "EBPFELFFile", "EBPFSys", "EBPFASM", "CEBPF"], path: "Sources/Link"),
        .target(name: "EBPFReaders", dependencies: ["EBPFCollection", "EBPFSys", "CEBPF"], path: "Sources/Readers"),
        .target(
            name: "EBPF",
            dependencies: [
                "EBPFSys", "EBPFELFFile", "EBPFASM", "EBPFBTF", "EBPFCollection", "EBPFELF", "EBPFLink", "EBPFReaders",
            ],
            path: "Sources/EBPF"
        ),
        .executableTarget(name: "ebpf", dependencies: ["EBPF"], path: "Sources/ebpf-cli"),

        // Writes EBPFSys's attribute structs and the kernel enums from BTF (Scripts/gen-sys-types).
        .target(name: "SysTypesGenerator", dependencies: ["EBPFBTF"], path: "Sources/SysTypesGenerator"),
        .executableTarget(name: "gen-sys-types", dependencies: ["SysTypesGenerator"], path: "Sources/gen-sys-types"),

        // Shared by the test targets: descriptor-leak checks, testdata lookup, privilege gates.
        .target(name: "TestSupport", dependencies: ["EBPFSys"], path: "Tests/TestSupport"),
        .testTarget(name: "SysTests", dependencies: ["EBPFSys", "EBPFASM", "TestSupport"]),
        .testTarget(name: "ELFFileTests", dependencies: ["EBPFELFFile", "TestSupport"]),
        .testTarget(name: "ASMTests", dependencies: ["EBPFASM", "EBPFELFFile", "TestSupport"]),
        .testTarget(name: "BTFTests", dependencies: ["EBPFBTF", "TestSupport"]),
        .testTarget(name: "CollectionTests", dependencies: ["EBPFCollection", "EBPFASM", "EBPFSys", "TestSupport"]),
        .testTarget(name: "ELFTests", dependencies: ["EBPFELF", "TestSupport"]),
        .testTarget(name: "LinkTests", dependencies: ["EBPFLink", "EBPFCollection", "EBPFSys", "EBPFASM", "TestSupport"]),
        .testTarget(name: "ReadersTests", dependencies: ["EBPFReaders", "EBPFCollection", "EBPFASM", "EBPFSys", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["ebpf", "TestSupport"]),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        .testTarget(name: "SysTypesGeneratorTests", dependencies: ["SysTypesGenerator", "EBPFBTF", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
