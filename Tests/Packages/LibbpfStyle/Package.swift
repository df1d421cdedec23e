// swift-tools-version: 6.1
import PackageDescription

// A package as a new user writes one: BPF C sources in libbpf's style (libbpf's headers, a
// vmlinux.h beside them, BPF_KPROBE, BPF_KSYSCALL, BPF_PROG, BPF_CORE_READ) built through
// swift-ebpf's plugin with no configuration. BPF2SwiftTests.LibbpfStylePackageTests writes
// bpf/vmlinux.h from the running kernel, builds this package and runs it (needs libbpf-dev).
let package = Package(
    name: "libbpf-style",
    dependencies: [.package(name: "swift-ebpf", path: "../../..")],
    targets: [
        .executableTarget(
            name: "libbpf-style",
            dependencies: [.product(name: "EBPF", package: "swift-ebpf")],
            exclude: ["bpf"],
            plugins: [.plugin(name: "BPF2SwiftPlugin", package: "swift-ebpf")])
    ],
    swiftLanguageModes: [.v6]
)
