// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for swift-ebpf's parsers. A separate package because a fuzz target has no
// `main` of its own and links only with `-sanitize=fuzzer`. Build and run with Fuzz/run.sh.
let package = Package(
    name: "swift-ebpf-fuzz",
    dependencies: [.package(name: "swift-ebpf", path: "..")],
    targets: [
        // What every fuzz target shares: the hand-over to libFuzzer's driver and seed writing.
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "fuzz-elffile",
            dependencies: ["FuzzDriver", .product(name: "EBPF", package: "swift-ebpf")]
        ),
        .executableTarget(
            name: "fuzz-btf",
            dependencies: ["FuzzDriver", .product(name: "EBPF", package: "swift-ebpf")]
        ),
        .executableTarget(
            name: "fuzz-btfext",
            dependencies: ["FuzzDriver", .product(name: "EBPF", package: "swift-ebpf")]
        ),
        // The rtnetlink reply decoder (EBPFNetlink).
        .executableTarget(
            name: "fuzz-netlink",
            dependencies: ["FuzzDriver", .product(name: "EBPF", package: "swift-ebpf")]
        ),
        .executableTarget(
            name: "fuzz-collectionspec",
            dependencies: [.product(name: "EBPF", package: "swift-ebpf")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
