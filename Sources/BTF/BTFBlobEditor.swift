/// A spec's own BTF as raw records that can be patched in place and extended, then written out as a
/// blob for the kernel in the host's byte order.
///
/// This is the cheap road from an object's BTF to `BPF_BTF_LOAD`: nothing is decoded into
/// `BTFType` values and the string table is not rebuilt. The spec's strings stay where they are
/// (so string offsets from its `.BTF.ext`, such as line info's file names and source lines, stay
/// valid in the output) and new strings are appended after them. Type ids stay as they are; new
/// types are appended after the last one.
///
/// Every edit the kernel fix-ups and `sanitize(for:)` make keeps a record's size, which is what
/// lets them work in place. Records are addressed by type id and by word: word 0 is `name_off`,
/// word 1 is `info` (kind, vlen, kind_flag), word 2 is `size` or `type`, and the kind's trailing
/// words follow.
///
/// ```swift
/// var editor = BTFBlobEditor(spec)
/// try editor.sanitize(for: try BTFFeatureProbes.kernel.supported(editor.requiredFeatures))
/// let handle = try BTFHandle(bytes: try editor.bytes())
/// ```
public struct BTFBlobEditor: Sendable {
    /// The id of the first own type: 1, or one past the base's last id for split BTF.
    public let firstTypeID: BTFTypeID
    /// The spec split BTF continues; its records are read, never written.
    public let base: BTFSpec?
    /// The own type records, one host-order word per element.
    private var words: [UInt32]
    /// The word index in `words` where each own type's record starts, plus one past the last.
    private var recordStarts: [Int]
    /// The own string section: the spec's, then the strings added.
    private var strings: [UInt8]
    /// Where the own string section starts in the string space (the base's total string length).
    private let stringBase: UInt32
    /// The offsets of the strings added, so each is added once.
    private var addedStrings: [String: UInt32] = [:]

    /// A copy of `spec`'s own types and strings, in the host's byte order.
    public init(_ spec: BTFSpec) {
        firstTypeID = spec.firstTypeID
        base = spec.base
        stringBase = spec.firstStringOffset
        let wordCount = Int(spec.header.typeLength) / 4
        let typeStart = spec.typeSectionStart
        let swap = spec.byteOrder != .host
        words = spec.withUnsafeBytes { blob in
            [UInt32](unsafeUninitializedCapacity: wordCount) { buffer, initialized in
                for index in 0..<wordCount {
                    let word = blob.loadUnaligned(fromByteOffset: typeStart &+ index &* 4, as: UInt32.self)
                    buffer[index] = swap ? word.byteSwapped : word
                }
                initialized = wordCount
            }
        }
        var starts: [Int] = []
        starts.reserveCapacity(spec.offsets.count + 1)
        for offset in spec.offsets {
            starts.append(Int(offset) / 4)
        }
        starts.append(wordCount)
        recordStarts = starts
        let stringStart = spec.stringSectionStart
        let stringLength = Int(spec.header.stringLength)
        strings = spec.withUnsafeBytes { blob in
            Array(blob[stringStart..<(stringStart + stringLength)])
        }
    }

    /// The id the next appended type gets; also one past the last id.
    public var nextTypeID: BTFTypeID {
        BTFTypeID(firstTypeID.rawValue &+ UInt32(truncatingIfNeeded: recordStarts.count &- 1))
    }

    // MARK: - Reading records

    /// The word range of own type `id`'s record, nil for ids that are not own types.
    @inline(__always)
    private func record(_ id: BTFTypeID) -> Range<Int>? {
        let index = Int(id.rawValue) &- Int(firstTypeID.rawValue)
        guard index >= 0, index < recordStarts.count &- 1 else { return nil }
        return recordStarts[index]..<recordStarts[index &+ 1]
    }

    /// Word `index` of own type `id`'s record; nil past the record or for ids that are not own types.
    public func word(_ index: Int, of id: BTFTypeID) -> UInt32? {
        guard let range = record(id), index >= 0, index < range.count else { return nil }
        return words[range.lowerBound &+ index]
    }

    /// Replaces word `index` of own type `id`'s record; returns false (changing nothing) past the
    /// record or for ids that are not own types.
    @discardableResult
    public mutating func setWord(_ value: UInt32, _ index: Int, of id: BTFTypeID) -> Bool {
        guard let range = record(id), index >= 0, index < range.count else { return false }
        words[range.lowerBound &+ index] = value
        return true
    }

    /// The kind of own type `id`, nil for ids that are not own types.
    public func kind(of id: BTFTypeID) -> BTFKind? {
        guard let info = word(1, of: id) else { return nil }
        return BTFKind(rawValue: UInt8(truncatingIfNeeded: (info >> 24) & 0x1F))
    }

    /// The vlen of own type `id` (the linkage of a function), 0 for ids that are not own types.
    public func vlen(of id: BTFTypeID) -> Int {
        Int((word(1, of: id) ?? 0) & 0xFFFF)
    }

    /// Rewrites the `info` word of own type `id`.
    @discardableResult
    public mutating func setInfo(kind: BTFKind, vlen: Int, kindFlag: Bool = false, of id: BTFTypeID) -> Bool {
        setWord(Self.info(kind: kind, vlen: vlen, kindFlag: kindFlag), 1, of: id)
    }

    /// The name offset of type `id`, an own type's or (for split BTF) the base's; 0 for `void`,
    /// nil for ids neither has.
    public func nameOffset(of id: BTFTypeID) -> UInt32? {
        if id == .void { return 0 }
        if id < firstTypeID, let base {
            guard let offset = base.recordOffset(id) else { return nil }
            return base.word(at: offset)
        }
        return word(0, of: id)
    }

    /// The string at `offset` in the string space (the base's strings first for split BTF), nil
    /// past the end.
    public func string(at offset: UInt32) -> String? {
        if offset < stringBase { return base?.string(at: offset) }
        let local = Int(offset &- stringBase)
        guard local < strings.count else { return nil }
        return strings.withUnsafeBufferPointer { buffer in
            let tail = buffer[local...]
            let end = tail.firstIndex(of: 0) ?? buffer.endIndex
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[local..<end]), as: UTF8.self)
        }
    }

    /// Whether the string at `offset` is empty (offset 0 always is). An offset past the end counts
    /// as empty, as decoding reads it.
    public func isEmptyString(at offset: UInt32) -> Bool {
        if offset < stringBase {
            guard let pointer = base?.cString(at: offset) else { return true }
            return pointer.pointee == 0
        }
        let local = Int(offset &- stringBase)
        return local >= strings.count || strings[local] == 0
    }

    // MARK: - Adding

    /// Appends `string` to the string table (once, however often it is added) and returns its offset.
    public mutating func addString(_ string: String) throws(BTFMarshalError) -> UInt32 {
        if string.isEmpty { return 0 }
        if let known = addedStrings[string] { return known }
        let local = strings.count
        var containsNUL = false
        var copy = string
        copy.withUTF8 { utf8 in
            containsNUL = utf8.contains(0)
            if !containsNUL { strings.append(contentsOf: utf8) }
        }
        guard !containsNUL else { throw .stringContainsNUL(id: nextTypeID, string: string) }
        strings.append(0)
        let (offset, overflow) = stringBase.addingReportingOverflow(UInt32(truncatingIfNeeded: local))
        guard !overflow, strings.count <= Int(UInt32.max) else {
            throw .tooLarge(section: "string offsets", size: UInt64(stringBase) + UInt64(strings.count))
        }
        addedStrings[string] = offset
        return offset
    }

    /// Appends a type record (`name_off`, `info`, `size` or `type`, then `trailing`) and returns
    /// its id. The trailing words must be what `kind` and `vlen` call for.
    public mutating func appendRecord(
        nameOffset: UInt32, kind: BTFKind, vlen: Int = 0, kindFlag: Bool = false, sizeOrType: UInt32,
        trailing: [UInt32] = []
    ) throws(BTFMarshalError) -> BTFTypeID {
        let id = nextTypeID
        guard id.rawValue < UInt32.max else { throw .tooLarge(section: "type ids", size: UInt64(id.rawValue) + 1) }
        guard vlen >= 0, vlen <= 0xFFFF else { throw .tooManyComponents(id: id, kind: kind, count: vlen) }
        words.append(nameOffset)
        words.append(Self.info(kind: kind, vlen: vlen, kindFlag: kindFlag))
        words.append(sizeOrType)
        words.append(contentsOf: trailing)
        recordStarts.append(words.count)
        return id
    }

    @inline(__always)
    static func info(kind: BTFKind, vlen: Int, kindFlag: Bool) -> UInt32 {
        (kindFlag ? 1 << 31 : 0) | UInt32(kind.rawValue & 0x1F) << 24 | UInt32(truncatingIfNeeded: vlen & 0xFFFF)
    }

    // MARK: - Features and output

    /// The features the own types use (what `BTFFeatures(requiredBy:)` says of their graph).
    public var requiredFeatures: BTFFeatures {
        var required: BTFFeatures = []
        for index in 0..<(recordStarts.count &- 1) {
            let info = words[recordStarts[index] &+ 1]
            switch (info >> 24) & 0x1F {
            case 12:
                required.insert(.functions)
                if info & 0xFFFF != 0 { required.insert(.globalFunctions) }
            case 13: required.insert(.functions)
            case 14, 15: required.insert(.dataSections)
            case 16: required.insert(.floats)
            case 17: required.insert(.declarationTags)
            case 18: required.insert(.typeTags)
            case 19: required.insert(.enum64)
            case 6 where info & (1 << 31) != 0: required.insert(.enum64)
            default: break
            }
        }
        return required
    }

    /// The blob: header, type section, string section, in the host's byte order.
    public func bytes() throws(BTFMarshalError) -> [UInt8] {
        let headerSize = BTFHeader.knownSize
        let typeBytes = UInt64(words.count) * 4
        let stringBytes = UInt64(strings.count)
        guard typeBytes + stringBytes <= UInt64(UInt32.max) else {
            throw .tooLarge(section: "blob", size: typeBytes + stringBytes)
        }
        let total = headerSize + Int(typeBytes) + Int(stringBytes)
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: BTFHeader.magic, toByteOffset: 0, as: UInt16.self)
            raw[2] = BTFHeader.version
            raw[3] = 0
            raw.storeBytes(of: UInt32(headerSize), toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: 0, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: UInt32(typeBytes), toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: UInt32(typeBytes), toByteOffset: 16, as: UInt32.self)
            raw.storeBytes(of: UInt32(stringBytes), toByteOffset: 20, as: UInt32.self)
            let stringStart = headerSize + Int(typeBytes)
            words.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: raw[headerSize..<stringStart]).copyMemory(from: source)
            }
            strings.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: raw[stringStart..<total]).copyMemory(from: source)
            }
            initialized = total
        }
    }
}
