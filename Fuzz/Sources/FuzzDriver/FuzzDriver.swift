import Glibc

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// The entry point of a fuzz target. SwiftPM links an executable's entry point as
/// `<module>_main`; each target defines that with `@_cdecl` and calls `run`.
public enum FuzzDriver {
    /// Hands control to libFuzzer with `callback` as `LLVMFuzzerTestOneInput`, or, when the first
    /// argument is `--write-seeds DIRECTORY`, writes the target's seed corpus there and returns.
    public static func run(
        argc: CInt, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt,
        seeds: () -> [(name: String, bytes: [UInt8])]
    ) -> CInt {
        if argc == 3, let argv, let flag = argv[1], String(cString: flag) == "--write-seeds", let directory = argv[2] {
            return writeSeeds(seeds(), to: String(cString: directory))
        }
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments, callback)
    }

    private static func writeSeeds(_ seeds: [(name: String, bytes: [UInt8])], to directory: String) -> CInt {
        for seed in seeds {
            let path = directory + "/" + seed.name
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                perror(path)
                return 1
            }
            defer { close(descriptor) }
            var written = 0
            while written < seed.bytes.count {
                let result = seed.bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if result < 0, errno == EINTR { continue }
                guard result > 0 else {
                    perror(path)
                    return 1
                }
                written += result
            }
        }
        print("wrote \(seeds.count) seeds to \(directory)")
        return 0
    }

    /// The testdata directory of the repository, found from this source file.
    public static let testdata: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(4)  // FuzzDriver.swift, FuzzDriver, Sources, Fuzz
        return components.joined(separator: "/") + "/testdata"
    }()

    /// The names of the committed objects in testdata (`*-el.o`, `*-eb.o`).
    public static func testdataObjects() -> [String] {
        directoryEntries(testdata).filter { $0.hasSuffix("-el.o") || $0.hasSuffix("-eb.o") }
    }

    /// The committed testdata objects and the real-world corpus, as named byte arrays.
    public static func allObjects() -> [(name: String, bytes: [UInt8])] {
        let committed = testdataObjects().compactMap { name in
            readFile(testdata + "/" + name).map { (name: name, bytes: $0) }
        }
        return committed + corpusObjects()
    }

    /// Real-world BPF objects: those embedded in the binaries of Debian's `libbpf-tools` (found
    /// the way the corpus test finds them) and the objects `xdp-tools` installs. Empty when the
    /// packages are absent.
    public static func corpusObjects() -> [(name: String, bytes: [UInt8])] {
        var objects: [(name: String, bytes: [UInt8])] = []
        let list = readFile("/var/lib/dpkg/info/libbpf-tools.list") ?? []
        for line in list.split(separator: UInt8(ascii: "\n")) {
            let path = String(decoding: line, as: UTF8.self)
            guard path.hasPrefix("/usr/sbin/"), let binary = readFile(path) else { continue }
            let tool = path.dropFirst("/usr/sbin/".count)
            for (number, object) in embeddedObjects(in: binary).enumerated() {
                objects.append(("libbpf-tools-\(tool)-\(number).o", object))
            }
        }
        let xdpTools = "/usr/lib/x86_64-linux-gnu/bpf"
        for name in directoryEntries(xdpTools) where name.hasSuffix(".o") {
            if let bytes = readFile(xdpTools + "/" + name) { objects.append(("xdp-tools-" + name, bytes)) }
        }
        return objects
    }

    /// The BPF objects inside a binary: each `\x7fELF` of class 64 and machine EM_BPF, cut to the
    /// end of its section header table.
    public static func embeddedObjects(in bytes: [UInt8]) -> [[UInt8]] {
        var objects: [[UInt8]] = []
        var index = 1
        while index + 64 <= bytes.count {
            defer { index += 1 }
            guard bytes[index] == 0x7f, bytes[index + 1] == 0x45, bytes[index + 2] == 0x4c, bytes[index + 3] == 0x46,
                bytes[index + 4] == 2
            else { continue }
            let little = bytes[index + 5] == 1
            func read(_ offset: Int, _ size: Int) -> UInt64 {
                let range = (index + offset)..<(index + offset + size)
                let ordered = little ? Array(bytes[range].reversed()) : Array(bytes[range])
                return ordered.reduce(0) { $0 << 8 | UInt64($1) }
            }
            guard read(18, 2) == 247 else { continue }
            let (end, overflow) = read(40, 8).addingReportingOverflow(read(60, 2) * read(58, 2))
            guard !overflow, end <= UInt64(bytes.count - index) else { continue }
            objects.append(Array(bytes[index..<(index + Int(end))]))
        }
        return objects
    }

    /// The whole contents of a file, or nil.
    public static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    /// The names in a directory, without `.` and `..`.
    public static func directoryEntries(_ path: String) -> [String] {
        guard let handle = opendir(path) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Stops the run with a message when a property the target checks does not hold; libFuzzer
    /// reports a target that exits and keeps the input.
    public static func fail(_ message: String) -> Never {
        print("fuzz property failed: \(message)")
        exit(1)
    }
}
