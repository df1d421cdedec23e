import CLibBPF
import EBPF
import Glibc

// The map scenarios: single-element updates and lookups over every key of a hash map, and a
// batch lookup of the whole map. Each side has a map of its own of the same size, created by
// its own library, so neither side's work leaves state the other one measures.

let benchMapEntries = 100_000

/// `BPF_MAP_TYPE_HASH`.
let hashMapType: UInt32 = 1

func runMaps(iterations: Int) {
    let swiftMap: Map
    do {
        swiftMap = try Map(
            spec: MapSpec(
                name: "bench_swift", type: .hash, keySize: 4, valueSize: 8, maxEntries: UInt32(benchMapEntries)))
    } catch {
        fail("swift: create map: \(error)")
    }
    let libbpfFD = bpf_map_create(bpf_map_type(hashMapType), "bench_libbpf", 4, 8, UInt32(benchMapEntries), nil)
    guard libbpfFD > 0 else { fail("libbpf: bpf_map_create failed: \(libbpfFD)") }
    defer { close(libbpfFD) }

    let count = UInt32(benchMapEntries)
    var round: UInt64 = 0

    func swiftUpdate() -> Int {
        round &+= 1
        do {
            for key in 0..<count {
                try swiftMap.update(key, UInt64(key) &+ round)
            }
        } catch {
            fail("swift update: \(error)")
        }
        return Int(count)
    }
    func libbpfUpdate() -> Int {
        var value: UInt64 = 0
        for key in 0..<count {
            var key = key
            value = UInt64(key) &+ round
            guard bpf_map_update_elem(libbpfFD, &key, &value, 0) == 0 else { fail("libbpf update: errno \(errno)") }
        }
        return Int(count)
    }
    func swiftLookup() -> Int {
        var checksum = 0
        do {
            for key in 0..<count {
                guard let value = try swiftMap.lookup(key, as: UInt64.self) else { fail("swift lookup: no key \(key)") }
                checksum &+= Int(truncatingIfNeeded: value)
            }
        } catch {
            fail("swift lookup: \(error)")
        }
        return checksum
    }
    func libbpfLookup() -> Int {
        var checksum = 0
        var value: UInt64 = 0
        for key in 0..<count {
            var key = key
            guard bpf_map_lookup_elem(libbpfFD, &key, &value) == 0 else { fail("libbpf lookup: errno \(errno)") }
            checksum &+= Int(truncatingIfNeeded: value)
        }
        return checksum
    }
    func swiftBatch() -> Int {
        var cursor = MapBatchCursor()
        var total = 0
        do {
            while !cursor.isAtEnd {
                let batch = try swiftMap.lookupBatch(UInt32.self, UInt64.self, cursor: &cursor, maxCount: benchMapEntries)
                total += batch.keys.count
            }
        } catch {
            fail("swift batch lookup: \(error)")
        }
        guard total == benchMapEntries else { fail("swift batch lookup saw \(total) elements") }
        return total
    }
    // libbpf's caller owns the buffers; like the Swift side, each call gets fresh ones.
    func libbpfBatch() -> Int {
        var keys = [UInt32](repeating: 0, count: benchMapEntries)
        var values = [UInt64](repeating: 0, count: benchMapEntries)
        var token: UInt32 = 0
        var total = 0
        var started = false
        while true {
            var batchCount = UInt32(benchMapEntries)
            var next: UInt32 = 0
            let result = keys.withUnsafeMutableBytes { keyBytes in
                values.withUnsafeMutableBytes { valueBytes in
                    withUnsafeMutablePointer(to: &token) { tokenPointer in
                        bpf_map_lookup_batch(
                            libbpfFD, started ? UnsafeMutableRawPointer(tokenPointer) : nil, &next,
                            keyBytes.baseAddress, valueBytes.baseAddress, &batchCount, nil)
                    }
                }
            }
            let error = errno
            total += Int(batchCount)
            if result != 0 {
                guard error == ENOENT else { fail("libbpf batch lookup: errno \(error)") }
                break
            }
            token = next
            started = true
        }
        guard total == benchMapEntries else { fail("libbpf batch lookup saw \(total) elements") }
        return total
    }

    // Fill both maps, then warm up every side.
    _ = swiftUpdate()
    _ = libbpfUpdate()
    _ = measure(iterations: 2, [swiftUpdate, libbpfUpdate, swiftLookup, libbpfLookup, swiftBatch, libbpfBatch])

    let update = measure(iterations: iterations, [swiftUpdate, libbpfUpdate])
    report("map-update", swift: update[0], libbpf: update[1])
    let lookup = measure(iterations: iterations, [swiftLookup, libbpfLookup])
    report("map-lookup", swift: lookup[0], libbpf: lookup[1])
    let batch = measure(iterations: iterations * 2, [swiftBatch, libbpfBatch])
    report("map-batch-lookup", swift: batch[0], libbpf: batch[1])
    withExtendedLifetime(swiftMap) {}
}
