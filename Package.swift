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
        .executable(name: "bpf2swift", targets: ["bpf2swift"]),
        .plugin(name: "BPF2SwiftPlugin", targets: ["BPF2SwiftPlugin"]),
        .executable(name: "execcount", targets: ["execcount"]),
        .executable(name: "execinfo", targets: ["execinfo"]),
        .executable(name: "execsnoop", targets: ["execsnoop"]),
    ],
    targets: [
        .target(name: "CEBPF", path: "Sources/CSys"),
        .target(name: "EBPFSys", dependencies: ["CEBPF"], path: "Sources/Sys"),
        .target(name: "EBPFELFFile", path: "Sources/ELFFile"),
        .target(name: "EBPFASM", path: "Sources/ASM"),
        .target(name: "EBPFBTF", dependencies: ["EBPFELFFile", "EBPFASM", "EBPFSys"], path: "Sources/BTF"),
        .target(name: "EBPFCollection", dependencies: ["EBPFSys", "EBPFASM", "EBPFBTF"], path: "Sources/Collection"),
        .target(name: "EBPFELF", dependencies: ["EBPFELFFile", "EBPFASM", "EBPFBTF", "EBPFCollection"], path: "Sources/ELF"),
        // rtnetlink: devices, qdiscs, tc filters and XDP through NETLINK_ROUTE; no BPF knowledge.
        .target(name: "EBPFNetlink", dependencies: ["EBPFSys"], path: "Sources/Netlink"),
        .target(
            name: "EBPFLink", dependencies: ["EBPFCollection", "EBPFELFFile", "EBPFSys", "EBPFASM", "CEBPF", "EBPFNetlink"],
            path: "Sources/Link"),
        .target(name: "EBPFReaders", dependencies: ["EBPFCollection", "EBPFSys", "CEBPF"], path: "Sources/Readers"),
        .target(
            name: "EBPF",
            dependencies: [
                "EBPFSys", "EBPFELFFile", "EBPFASM", "EBPFBTF", "EBPFCollection", "EBPFELF", "EBPFNetlink", "EBPFLink",
                "EBPFReaders",
            ],
            path: "Sources/EBPF"
        ),
        .executableTarget(name: "ebpf", dependencies: ["EBPF"], path: "Sources/ebpf-cli"),
        .target(name: "BPF2SwiftGenerator", dependencies: ["EBPF"], path: "Sources/BPF2SwiftGenerator"),
        .executableTarget(name: "bpf2swift", dependencies: ["BPF2SwiftGenerator"], path: "Sources/bpf2swift"),
        // Compiles a target's bpf/*.bpf.c (excluded from the target) with bpf2swift during the build.
        .plugin(name: "BPF2SwiftPlugin", capability: .buildTool(), dependencies: ["bpf2swift"], path: "Plugins/BPF2SwiftPlugin"),

        // Examples: `swift run execcount` (as root).
        .executableTarget(
            name: "execcount", dependencies: ["EBPF"], path: "Examples/execcount", exclude: ["bpf"],
            plugins: ["BPF2SwiftPlugin"]),
        // CO-RE: task_struct fields through BPF_CORE_READ, against Examples/include/vmlinux.h.
        .executableTarget(
            name: "execinfo", dependencies: ["EBPF"], path: "Examples/execinfo", exclude: ["bpf"],
            plugins: ["BPF2SwiftPlugin"]),
        // Streams events through a ring buffer: every exec with its arguments, like libbpf-tools' execsnoop.
        .executableTarget(
            name: "execsnoop", dependencies: ["EBPF"], path: "Examples/execsnoop", exclude: ["bpf"],
            plugins: ["BPF2SwiftPlugin"]),
        // USDT: counts a Python process's audit events by name through its python:audit probe.
        .executableTarget(
            name: "pyaudit", dependencies: ["EBPF"], path: "Examples/pyaudit", exclude: ["bpf"],
            plugins: ["BPF2SwiftPlugin"]),

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
        .testTarget(
            name: "LoaderTests",
            dependencies: ["EBPFELF", "EBPFCollection", "EBPFBTF", "EBPFASM", "EBPFSys", "EBPFLink", "TestSupport"]),
        .testTarget(name: "NetlinkTests", dependencies: ["EBPFNetlink", "TestSupport"]),
        .testTarget(name: "LinkTests", dependencies: ["EBPFLink", "EBPFNetlink", "EBPFCollection", "EBPFELF", "EBPFELFFile", "EBPFSys", "EBPFASM", "TestSupport"]),
        .testTarget(name: "ReadersTests", dependencies: ["EBPFReaders", "EBPFCollection", "EBPFASM", "EBPFSys", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["ebpf", "TestSupport"]),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        // Runs bpf2swift on its bpf/ sources through the plugin too, so the generated API is compiled and used.
        .testTarget(
            name: "BPF2SwiftTests", dependencies: ["BPF2SwiftGenerator", "execcount", "execinfo", "execsnoop", "EBPF", "TestSupport"], exclude: ["bpf"],
            plugins: ["BPF2SwiftPlugin"]),
        .testTarget(name: "SysTypesGeneratorTests", dependencies: ["SysTypesGenerator", "EBPFBTF", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
