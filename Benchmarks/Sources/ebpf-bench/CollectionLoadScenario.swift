import CLibBPF
import EBPF
import Glibc

// MARK: - collection-load: bytes of a multi-program object to a loaded collection

/// The repository's testdata object the scenario loads by default: six programs of five types,
/// five BTF maps, global data and subprograms.
func collectionTestdataObject() -> String {
    var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    components.removeLast(4)  // CollectionLoadScenario.swift, ebpf-bench, Sources, Benchmarks
    return components.joined(separator: "/") + "/testdata/collection-el.o"
}

/// Keeps libbpf quiet: its warnings would interleave with the results.
let silentLibbpfPrint: libbpf_print_fn_t = { _, _, _ in 0 }

func runCollectionLoad(iterations: Int, objectPath: String?) {
    let path = objectPath ?? collectionTestdataObject()
    let bytes = readWholeFile(path)
    _ = libbpf_set_print(silentLibbpfPrint)

    // Both sides start from the bytes in memory and end with everything closed again.
    let swiftLoad = { () -> Int in
        do {
            let spec = try CollectionSpec(elfBytes: bytes)
            let collection = try LoadedCollection(spec: spec)
            let count = collection.programs.count &+ collection.maps.count
            collection.close()
            return count
        } catch {
            fail("swift: \(path): \(error)")
        }
    }
    let libbpfLoad = { () -> Int in
        let object = bytes.withUnsafeBytes { buffer in bpf_object__open_mem(buffer.baseAddress, buffer.count, nil) }
        guard let object else { fail("libbpf: \(path): bpf_object__open_mem failed") }
        defer { bpf_object__close(object) }
        let result = bpf_object__load(object)
        guard result == 0 else { fail("libbpf: \(path): bpf_object__load failed: \(result)") }
        var count = 0
        var program = bpf_object__next_program(object, nil)
        while let current = program {
            count += 1
            program = bpf_object__next_program(object, current)
        }
        return count
    }
    _ = measure(iterations: 3, [swiftLoad, libbpfLoad])
    let result = measure(iterations: max(iterations, 5), [swiftLoad, libbpfLoad])
    print("# collection-load object=\(path) bytes=\(bytes.count)")
    report("collection-load", swift: result[0], libbpf: result[1])
}
