import Glibc

/// Locates the committed testdata of the repository, relative to this source file, so tests
/// find it from any working directory.
public enum TestData {
    /// The absolute path of `testdata/`.
    public static let directory: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // TestData.swift, TestSupport, Tests
        return components.joined(separator: "/") + "/testdata"
    }()

    /// The absolute path of a file in `testdata/`.
    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The testdata sources whose objects the object reader refuses on purpose, each tested for its
    /// error elsewhere: `isa_v4` loads a function address into the second half of a lddw
    /// (MalformedObjectTests), `static_map` references a map through a local symbol
    /// (CompatibilityTests), the `arena_globals_*` objects have `__arena` globals without one
    /// arena map that fits them (ArenaGlobalsReaderTests).
    public static let refusedObjectStems: Set<String> = [
        "isa_v4", "static_map", "arena_globals_no_map", "arena_globals_two_maps", "arena_globals_too_big",
    ]

    /// The objects of ``objectNames()`` that the object reader reads.
    public static func readableObjectNames() -> [String] {
        objectNames().filter { name in
            !refusedObjectStems.contains(where: { name.hasPrefix($0 + "-") })
        }
    }

    /// The names of the compiled objects in `testdata/` (`*-el.o` and `*-eb.o`), sorted.
    public static func objectNames() -> [String] {
        guard let handle = opendir(directory) else { return [] }
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

    /// The whole contents of a file in `testdata/`, or nil if it cannot be read.
    public static func contents(_ name: String) -> [UInt8]? { readFile(path(name)) }
}

/// Reads a whole file without Foundation; nil if it cannot be opened or read.
public func readFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if count == 0 { return result }
        result.append(contentsOf: chunk[0..<count])
    }
}
