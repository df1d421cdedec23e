import CLibBPF
import EBPF
import Glibc

// MARK: - elf-open: bytes of a BPF object to a spec, against libbpf's bpf_object__open_mem

/// The largest `*-el.o` in the repository's testdata, which the scenario opens by default.
func largestTestdataObject() -> String {
    var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    components.removeLast(4)  // ELFScenario.swift, ebpf-bench, Sources, Benchmarks
    let directory = components.joined(separator: "/") + "/testdata"
    guard let handle = opendir(directory) else { fail("cannot open \(directory)") }
    defer { closedir(handle) }
    var best = ("", -1)
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasSuffix("-el.o") else { continue }
        var info = stat()
        let path = directory + "/" + name
        if stat(path, &info) == 0, Int(info.st_size) > best.1 { best = (path, Int(info.st_size)) }
    }
    guard best.1 > 0 else { fail("no objects in \(directory)") }
    return best.0
}

func readWholeFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}

func runELF(iterations: Int, objectPath: String?) {
    let path = objectPath ?? largestTestdataObject()
    let bytes = readWholeFile(path)
    let swiftOpen = { () -> Int in
        do {
            let spec = try CollectionSpec(elfBytes: bytes)
            return spec.programs.count &+ spec.maps.count
        } catch {
            fail("swift: \(path): \(error)")
        }
    }
    let libbpfOpen = { () -> Int in
        let object = bytes.withUnsafeBytes { buffer in bpf_object__open_mem(buffer.baseAddress, buffer.count, nil) }
        guard let object else { fail("libbpf: \(path): bpf_object__open_mem failed") }
        defer { bpf_object__close(object) }
        var count = 0
        var program = bpf_object__next_program(object, nil)
        while let current = program {
            count += 1
            program = bpf_object__next_program(object, current)
        }
        return count
    }
    _ = measure(iterations: 5, [swiftOpen, libbpfOpen])
    let result = measure(iterations: max(iterations, 5) * 5, [swiftOpen, libbpfOpen])
    print("# elf-open object=\(path) bytes=\(bytes.count)")
    report("elf-open", swift: result[0], libbpf: result[1])
}
