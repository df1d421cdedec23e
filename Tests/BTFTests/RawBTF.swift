import EBPFBTF

/// Writes BTF blobs word by word, so tests can build exactly the (hostile) input they need in
/// either byte order.
struct RawBTF {
    var strings: [UInt8]
    /// The string offset of `strings[0]`: 0 for a base blob, the base's string length for split BTF.
    var stringBase: UInt32
    var words: [UInt32] = []

    init(splitOn base: BTFSpec? = nil) {
        if let base {
            strings = []
            stringBase = base.header.stringLength
        } else {
            strings = [0]
            stringBase = 0
        }
    }

    mutating func string(_ text: String) -> UInt32 {
        let offset = stringBase + UInt32(strings.count)
        strings += Array(text.utf8) + [0]
        return offset
    }

    /// Appends one type record; returns nothing because ids are positional.
    mutating func type(
        name: UInt32 = 0, kind: BTFKind, vlen: Int = 0, kindFlag: Bool = false, sizeOrType: UInt32, _ trailing: [UInt32] = []
    ) {
        let info = UInt32(kind.rawValue) << 24 | UInt32(vlen & 0xFFFF) | (kindFlag ? 1 << 31 : 0)
        words += [name, info, sizeOrType] + trailing
    }

    /// The blob: header, type section, string section.
    func blob(bigEndian: Bool = false) -> [UInt8] {
        let typeLength = UInt32(words.count * 4)
        var bytes: [UInt8] = []
        func put16(_ value: UInt16) {
            bytes += bigEndian ? [UInt8(value >> 8), UInt8(value & 0xFF)] : [UInt8(value & 0xFF), UInt8(value >> 8)]
        }
        func put32(_ value: UInt32) {
            let little = (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
            bytes += bigEndian ? little.reversed() : little
        }
        put16(0xEB9F)
        bytes += [1, 0]
        put32(24)
        put32(0)
        put32(typeLength)
        put32(typeLength)
        put32(UInt32(strings.count))
        for word in words { put32(word) }
        bytes += strings
        return bytes
    }
}

/// Writes `.BTF.ext` sections: each subsection is a record size followed by per-section runs.
struct RawBTFExt {
    struct Run {
        var sectionName: UInt32
        var records: [[UInt32]]
    }

    var funcInfo: [Run] = []
    var lineInfo: [Run] = []
    var coreRelocations: [Run] = []
    var funcRecordSize: UInt32 = 8
    var lineRecordSize: UInt32 = 16
    var coreRecordSize: UInt32 = 16
    var includeCoreHeader = true

    func blob(bigEndian: Bool = false) -> [UInt8] {
        func words(_ value: UInt32) -> [UInt8] {
            let little = (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
            return bigEndian ? little.reversed() : little
        }
        func subsection(_ runs: [Run], recordSize: UInt32) -> [UInt8] {
            guard !runs.isEmpty else { return [] }
            var bytes = words(recordSize)
            for run in runs {
                bytes += words(run.sectionName) + words(UInt32(run.records.count))
                for record in run.records {
                    var encoded = record.flatMap(words)
                    while encoded.count < Int(recordSize) { encoded.append(0) }
                    bytes += encoded
                }
            }
            return bytes
        }
        let headerLength: UInt32 = includeCoreHeader ? 32 : 24
        let functions = subsection(funcInfo, recordSize: funcRecordSize)
        let lines = subsection(lineInfo, recordSize: lineRecordSize)
        let relocations = includeCoreHeader ? subsection(coreRelocations, recordSize: coreRecordSize) : []
        var bytes: [UInt8] = bigEndian ? [0xEB, 0x9F, 1, 0] : [0x9F, 0xEB, 1, 0]
        bytes += words(headerLength)
        bytes += words(0) + words(UInt32(functions.count))
        bytes += words(UInt32(functions.count)) + words(UInt32(lines.count))
        if includeCoreHeader {
            bytes += words(UInt32(functions.count + lines.count)) + words(UInt32(relocations.count))
        }
        return bytes + functions + lines + relocations
    }
}
