// swift-tools-version: 6.1
import PackageDescription

// Side-by-side benchmarks of swift-ebpf against libbpf (Debian's libbpf-dev), kept out of the
// library package so the library itself has no dependency on libbpf.
let package = Package(
    name: "swift-ebpf-benchmarks",
    dependencies: [.package(name: "swift-ebpf", path: "..")],
    targets: [
        .systemLibrary(
            name: "CLibBPF",
            path: "Sources/CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        .executableTarget(
            name: "ebpf-bench",
            dependencies: [.product(name: "EBPF", package: "swift-ebpf"), "CLibBPF"],
            path: "Sources/ebpf-bench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
