/// A decoder for DEFLATE (RFC 1951) and the gzip container (RFC 1952), enough to read
/// `/proc/config.gz`: Foundation on Linux offers no zlib, and the library takes no dependencies.
///
/// Every read is bounds-checked; a damaged stream gives ``InflateError``, never a trap. Output
/// is capped so that a small hostile stream cannot expand without end.
enum Inflate {
    /// The most a stream may expand to: 64 MiB, far above any kernel configuration.
    static let outputLimit = 64 << 20

    /// The payload of a gzip file (one member; trailing members are ignored).
    static func gunzip(_ bytes: [UInt8]) throws(InflateError) -> [UInt8] {
        guard bytes.count >= 18, bytes[0] == 0x1f, bytes[1] == 0x8b, bytes[2] == 8 else {
            throw .notGzip
        }
        let flags = bytes[3]
        var position = 10
        func skip(_ count: Int) throws(InflateError) {
            guard count >= 0, count <= bytes.count - position else { throw .truncated }
            position += count
        }
        if flags & 0x04 != 0 {  // FEXTRA
            try skip(2)
            let length = Int(bytes[position - 2]) | Int(bytes[position - 1]) << 8
            try skip(length)
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT
            while true {
                try skip(1)
                if bytes[position - 1] == 0 { break }
            }
        }
        if flags & 0x02 != 0 {  // FHCRC
            try skip(2)
        }
        return try inflate(bytes, from: position)
    }

    /// The decompressed bytes of the raw DEFLATE stream starting at byte `start`.
    static func inflate(_ bytes: [UInt8], from start: Int = 0) throws(InflateError) -> [UInt8] {
        var reader = BitReader(bytes: bytes, position: start)
        var output: [UInt8] = []
        while true {
            let isLast = try reader.bits(1) == 1
            switch try reader.bits(2) {
            case 0:
                try reader.storedBlock(into: &output)
            case 1:
                try inflateBlock(&reader, into: &output, literals: fixedLiterals, distances: fixedDistances)
            case 2:
                let (literals, distances) = try dynamicTables(&reader)
                try inflateBlock(&reader, into: &output, literals: literals, distances: distances)
            default:
                throw .invalidBlockType
            }
            if isLast { return output }
        }
    }

    private static let lengthBases: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    private static let lengthExtraBits: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBases: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
        4097, 6145, 8193, 12289, 16385, 24577,
    ]
    private static let distanceExtraBits: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// The order in which a dynamic block lists the code lengths of the code-length alphabet.
    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static let fixedLiterals: HuffmanTable = {
        var lengths = [Int](repeating: 8, count: 288)
        for symbol in 144..<256 { lengths[symbol] = 9 }
        for symbol in 256..<280 { lengths[symbol] = 7 }
        return (try? HuffmanTable(lengths: lengths)) ?? HuffmanTable.empty
    }()
    private static let fixedDistances: HuffmanTable = {
        (try? HuffmanTable(lengths: [Int](repeating: 5, count: 30))) ?? HuffmanTable.empty
    }()

    private static func dynamicTables(_ reader: inout BitReader) throws(InflateError) -> (HuffmanTable, HuffmanTable) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for index in 0..<codeLengthCount {
            codeLengthLengths[codeLengthOrder[index]] = try reader.bits(3)
        }
        let codeLengths = try HuffmanTable(lengths: codeLengthLengths)
        var lengths: [Int] = []
        let total = literalCount + distanceCount
        while lengths.count < total {
            let symbol = try codeLengths.decode(&reader)
            switch symbol {
            case 0..<16:
                lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw .invalidCodeLengths }
                lengths += repeatElement(previous, count: try reader.bits(2) + 3)
            case 17:
                lengths += repeatElement(0, count: try reader.bits(3) + 3)
            default:
                lengths += repeatElement(0, count: try reader.bits(7) + 11)
            }
        }
        guard lengths.count == total else { throw .invalidCodeLengths }
        return (
            try HuffmanTable(lengths: Array(lengths[0..<literalCount])),
            try HuffmanTable(lengths: Array(lengths[literalCount...]))
        )
    }

    private static func inflateBlock(
        _ reader: inout BitReader, into output: inout [UInt8], literals: HuffmanTable, distances: HuffmanTable
    ) throws(InflateError) {
        while true {
            let symbol = try literals.decode(&reader)
            if symbol < 256 {
                guard output.count < outputLimit else { throw .outputTooLarge }
                output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let lengthIndex = symbol - 257
            guard lengthIndex < lengthBases.count else { throw .invalidSymbol(symbol) }
            let length = lengthBases[lengthIndex] + (try reader.bits(lengthExtraBits[lengthIndex]))
            let distanceSymbol = try distances.decode(&reader)
            guard distanceSymbol < distanceBases.count else { throw .invalidSymbol(distanceSymbol) }
            let distance = distanceBases[distanceSymbol] + (try reader.bits(distanceExtraBits[distanceSymbol]))
            guard distance <= output.count else { throw .distanceTooFar(distance) }
            guard length <= outputLimit - output.count else { throw .outputTooLarge }
            let start = output.count - distance
            for offset in 0..<length {
                output.append(output[start + offset])
            }
        }
    }
}

/// Why a compressed stream could not be decoded.
enum InflateError: Error, Hashable, Sendable {
    case notGzip
    case truncated
    case invalidBlockType
    case storedLengthMismatch
    case invalidCodeLengths
    case invalidSymbol(Int)
    case distanceTooFar(Int)
    case outputTooLarge
}

/// Reads a DEFLATE stream's bits, least significant first.
private struct BitReader {
    let bytes: [UInt8]
    var position: Int
    var buffer: UInt64 = 0
    var count = 0

    init(bytes: [UInt8], position: Int) {
        self.bytes = bytes
        self.position = position
    }

    mutating func bits(_ wanted: Int) throws(InflateError) -> Int {
        while count < wanted {
            guard position < bytes.count else { throw .truncated }
            buffer |= UInt64(bytes[position]) << UInt64(count)
            position += 1
            count += 8
        }
        let value = Int(buffer & ((1 << UInt64(wanted)) - 1))
        buffer >>= UInt64(wanted)
        count -= wanted
        return value
    }

    /// A stored block: byte-aligned length, its complement, then the bytes.
    mutating func storedBlock(into output: inout [UInt8]) throws(InflateError) {
        buffer = 0
        count = 0
        guard bytes.count - position >= 4 else { throw .truncated }
        let length = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        let complement = Int(bytes[position + 2]) | Int(bytes[position + 3]) << 8
        guard length == complement ^ 0xffff else { throw .storedLengthMismatch }
        position += 4
        guard bytes.count - position >= length else { throw .truncated }
        guard length <= Inflate.outputLimit - output.count else { throw .outputTooLarge }
        output += bytes[position..<(position + length)]
        position += length
    }
}

/// A canonical Huffman code, decoded bit by bit by code length (short codes are the common case
/// and the inputs are small).
private struct HuffmanTable {
    /// How many codes each length (0...15) has.
    var countPerLength: [Int]
    /// The symbols sorted by code.
    var symbols: [Int]

    static let empty = HuffmanTable(countPerLength: [Int](repeating: 0, count: 16), symbols: [])

    private init(countPerLength: [Int], symbols: [Int]) {
        self.countPerLength = countPerLength
        self.symbols = symbols
    }

    init(lengths: [Int]) throws(InflateError) {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths {
            guard length >= 0, length < 16 else { throw .invalidCodeLengths }
            counts[length] += 1
        }
        counts[0] = 0
        var offsets = [Int](repeating: 0, count: 16)
        for length in 1..<15 {
            offsets[length + 1] = offsets[length] + counts[length]
        }
        var sorted = [Int](repeating: 0, count: lengths.count)
        for (symbol, length) in lengths.enumerated() where length != 0 {
            sorted[offsets[length]] = symbol
            offsets[length] += 1
        }
        countPerLength = counts
        symbols = sorted
    }

    func decode(_ reader: inout BitReader) throws(InflateError) -> Int {
        var code = 0
        var first = 0
        var index = 0
        for length in 1..<16 {
            code |= try reader.bits(1)
            let count = countPerLength[length]
            if code - first < count {
                let position = index + code - first
                guard position < symbols.count else { throw .invalidSymbol(position) }
                return symbols[position]
            }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw .invalidSymbol(-1)
    }
}
