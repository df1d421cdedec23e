import EBPFELFFile
import Testing
import TestSupport

/// Parses `bytes` and touches everything the reader can decode, returning the first error.
/// A trap anywhere in here is a failed test run.
@discardableResult
func exerciseReader(_ bytes: [UInt8]) -> ELFError? {
    do throws(ELFError) {
        let file = try ELFFile(bytes: bytes)
        _ = try file.symbols()
        _ = try file.dynamicSymbols()
        for section in file.sections {
            _ = try file.contents(of: section)
            switch section.type {
            case .rel, .rela:
                _ = try file.relocations(in: section)
                _ = try file.relocationTarget(of: section)
            case .note:
                _ = try file.notes(in: section)
            case .strtab:
                _ = try file.string(at: 0, inStringTable: section)
            default:
                break
            }
        }
        for segment in file.programHeaders where segment.type == .note {
            _ = try file.notes(in: segment)
        }
        return nil
    } catch {
        return error
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("malformed input", .checksFileDescriptorLeaks)
struct MalformedInputTests {
    static let orders: [ELFByteOrder] = [.littleEndian, .bigEndian]

    static func minimalObject(_ order: ELFByteOrder) throws -> [UInt8] {
        try ELFFile(path: Testdata.path("minimal", order)).bytes
    }

    @Test("every truncation of a testdata object is an error", arguments: orders)
    func truncations(order: ELFByteOrder) throws {
        let bytes = try Self.minimalObject(order)
        #expect(exerciseReader(bytes) == nil)
        for length in 0..<bytes.count {
            let error = exerciseReader(Array(bytes[0..<length]))
            #expect(error != nil, "prefix of \(length) bytes parsed")
            if length < 16 {
                #expect(error == .truncated(what: "ELF identification", offset: 0, needed: 16, available: length))
            } else if length < 64 {
                #expect(error == .truncated(what: "ELF header", offset: 0, needed: 64, available: length))
            }
        }
    }

    @Test("single-bit flips give an error or a valid file", arguments: orders)
    func bitFlips(order: ELFByteOrder) throws {
        let bytes = try Self.minimalObject(order)
        let file = try ELFFile(bytes: bytes)
        let tableStart = Int(file.header.sectionHeaderOffset)
        let tableEnd = tableStart + file.sections.count * 64

        var positions = Array(0..<64) + Array(tableStart..<tableEnd)
        var generator = SplitMix64(state: 0x5EED)
        for _ in 0..<400 { positions.append(Int.random(in: 0..<bytes.count, using: &generator)) }

        var errors = 0
        var parsed = 0
        var mutated = bytes
        for position in positions {
            for bit in 0..<8 {
                mutated[position] ^= 1 << bit
                let error = exerciseReader(mutated)
                if let error {
                    errors += 1
                    switch position {
                    case 0..<4: #expect(error == .notELF)
                    case 4: #expect(error == .unsupportedClass(bytes[4] ^ (1 << bit)))
                    case 5: #expect(error == .badByteOrder(bytes[5] ^ (1 << bit)))
                    case 6: #expect(error == .unsupportedVersion(field: "e_ident[EI_VERSION]", version: UInt32(1 ^ (1 << bit))))
                    default: break
                    }
                } else {
                    parsed += 1
                    #expect(position >= 7, "a flip in the identification bytes at \(position) parsed")
                }
                mutated[position] ^= 1 << bit
            }
        }
        // Both outcomes must occur: flips in padding and names parse, flips in sizes do not.
        #expect(errors > 1000)
        #expect(parsed > 1000)
    }

    @Test("random multi-byte corruption never traps", arguments: orders)
    func randomCorruption(order: ELFByteOrder) throws {
        let bytes = try Self.minimalObject(order)
        var generator = SplitMix64(state: order == .littleEndian ? 1 : 2)
        for _ in 0..<1000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            exerciseReader(mutated)
        }
    }
}
