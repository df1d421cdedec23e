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
        guard let handle = opendir(testdata) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix("-el.o") || name.hasSuffix("-eb.o") { names.append(name) }
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
