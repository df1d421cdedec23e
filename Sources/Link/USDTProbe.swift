import EBPFELFFile

/// A statically defined user-space probe (USDT, as `<sys/sdt.h>` writes them) read from a
/// binary's `.note.stapsdt` section, with its addresses translated to the file offsets uprobes
/// take.
///
/// ```swift
/// for probe in try USDTProbe.probes(inBinaryAt: "/usr/bin/python3.11") {
///     print(probe.provider, probe.name, probe.arguments)
/// }
/// ```
public struct USDTProbe: Sendable, Hashable {
    /// The provider (`python`).
    public var provider: String
    /// The probe's name (`audit`).
    public var name: String
    /// The probe's virtual address in the binary, after the prelink adjustment that
    /// `.stapsdt.base` calls for.
    public var address: UInt64
    /// The file offset of the probe's instruction: where its uprobe goes.
    public var fileOffset: UInt64
    /// The semaphore's virtual address, nil for a probe without one.
    public var semaphoreAddress: UInt64?
    /// The semaphore's file offset (the uprobe's `ref_ctr_offset`), nil without a semaphore.
    public var semaphoreFileOffset: UInt64?
    /// The argument string as the note spells it (`8@%rbx 8@%r15`).
    public var argumentText: String
    /// The parsed arguments; nil when ``argumentError`` says why they cannot be expressed.
    public var arguments: [USDTArgument]?
    /// Why ``arguments`` is nil.
    public var argumentError: USDTArgumentFormatError?

    /// The fields of one `stapsdt` note before address translation.
    public struct Note: Sendable, Hashable {
        /// The probe's address as the note records it.
        public var location: UInt64
        /// The address of `.stapsdt.base` at the time the note was written.
        public var base: UInt64
        /// The semaphore's address, 0 for none.
        public var semaphore: UInt64
        public var provider: String
        public var name: String
        public var arguments: String

        /// Decodes a note's descriptor: three addresses, then provider, name and arguments, each
        /// NUL-terminated. Nil when the descriptor is too short or a string is unterminated.
        public init?(descriptor: [UInt8], byteOrder: ELFByteOrder) {
            guard descriptor.count >= 24 else { return nil }
            func address(_ at: Int) -> UInt64 {
                var value: UInt64 = 0
                for index in 0..<8 {
                    let byte = UInt64(descriptor[at + (byteOrder == .littleEndian ? 7 - index : index)])
                    value = value << 8 | byte
                }
                return value
            }
            location = address(0)
            base = address(8)
            semaphore = address(16)
            var strings: [String] = []
            var start = 24
            while strings.count < 3 {
                guard let end = descriptor[start...].firstIndex(of: 0) else { return nil }
                strings.append(String(decoding: descriptor[start..<end], as: UTF8.self))
                start = end + 1
            }
            provider = strings[0]
            name = strings[1]
            arguments = strings[2]
        }
    }

    /// The `stapsdt` note type (`NT_STAPSDT`).
    public static let noteType: UInt32 = 3

    /// Reads every probe of the binary at `path`.
    /// - Throws: ``USDTError`` when the file cannot be read, has no `.note.stapsdt` section or a
    ///   note is malformed. Arguments that cannot be expressed do not throw: see ``argumentError``.
    public static func probes(inBinaryAt path: String) throws(USDTError) -> [USDTProbe] {
        let file: ELFFile
        do { file = try ELFFile(path: path) } catch { throw .unreadableBinary(path: path, error: error) }
        return try probes(in: file, path: path)
    }

    /// Reads every probe of an already parsed binary; `path` names it in errors.
    public static func probes(in file: ELFFile, path: String) throws(USDTError) -> [USDTProbe] {
        guard let section = file.section(named: ".note.stapsdt") else { throw .noProbes(path: path) }
        let notes: [ELFNote]
        do { notes = try file.notes(in: section) } catch { throw .unreadableBinary(path: path, error: error) }
        guard let architecture = USDTArchitecture(machine: file.header.machine) else {
            throw .unsupportedArchitecture(path: path, machine: file.header.machine)
        }
        let base = file.section(named: ".stapsdt.base")?.address
        let segments = file.programHeaders.filter { $0.type == .load }
        var probes: [USDTProbe] = []
        for (index, note) in notes.enumerated() where note.name == "stapsdt" && note.type == noteType {
            guard let fields = Note(descriptor: note.descriptor, byteOrder: file.header.byteOrder) else {
                throw .malformedNote(path: path, index: index, reason: "descriptor shorter than three addresses and three strings")
            }
            probes.append(
                try USDTProbe(note: fields, stapsdtBase: base, segments: segments, architecture: architecture, path: path))
        }
        return probes
    }

    /// Translates a note's addresses: the location moves by how far `.stapsdt.base` moved since
    /// the note was written (prelinking), then becomes a file offset through the executable
    /// `PT_LOAD` segment holding it; the semaphore through the writable one holding it.
    public init(
        note: Note, stapsdtBase: UInt64?, segments: [ELFProgramHeader], architecture: USDTArchitecture, path: String
    ) throws(USDTError) {
        provider = note.provider
        name = note.name
        argumentText = note.arguments
        var address = note.location
        if let stapsdtBase, note.base != 0 {
            address = address &+ (stapsdtBase &- note.base)
        }
        self.address = address
        let where_ = USDTError.ProbeName(path: path, provider: note.provider, name: note.name)
        guard let code = Self.segment(holding: address, in: segments), code.flags.contains(.execute) else {
            throw .addressNotInSegment(where_, what: "probe", address: address, needed: "an executable PT_LOAD segment")
        }
        fileOffset = address - code.virtualAddress + code.offset
        if note.semaphore != 0 {
            guard let data = Self.segment(holding: note.semaphore, in: segments), !data.flags.contains(.execute) else {
                throw .addressNotInSegment(
                    where_, what: "semaphore", address: note.semaphore, needed: "a non-executable PT_LOAD segment")
            }
            semaphoreAddress = note.semaphore
            semaphoreFileOffset = note.semaphore - data.virtualAddress + data.offset
        }
        do {
            arguments = try USDTArgument.parseList(note.arguments, architecture: architecture)
        } catch {
            argumentError = error
        }
    }

    /// The `PT_LOAD` segment whose file-backed part holds `address`. A segment whose address or
    /// file range does not fit 64 bits holds nothing, so that the file offset computed from it
    /// (`address - p_vaddr + p_offset`) cannot overflow.
    static func segment(holding address: UInt64, in segments: [ELFProgramHeader]) -> ELFProgramHeader? {
        segments.first { segment in
            let (end, overflow) = segment.virtualAddress.addingReportingOverflow(segment.fileSize)
            let fileRangeOverflows = segment.offset.addingReportingOverflow(segment.fileSize).overflow
            return segment.type == .load && !overflow && !fileRangeOverflows && address >= segment.virtualAddress
                && address < end
        }
    }
}

/// Why reading or attaching a USDT probe failed. Each case names the binary, and the provider
/// and probe where one is concerned.
public enum USDTError: Error, Sendable, CustomStringConvertible {
    /// A probe, for errors about one.
    public struct ProbeName: Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var provider: String
        public var name: String
        public var description: String { "USDT \(provider):\(name) in \(path)" }
    }

    /// The file could not be read or is not a valid ELF file.
    case unreadableBinary(path: String, error: ELFError)
    /// The binary has no `.note.stapsdt` section.
    case noProbes(path: String)
    /// The binary is for an instruction set whose argument strings cannot be parsed.
    case unsupportedArchitecture(path: String, machine: ELFMachine)
    /// Note number `index` of `.note.stapsdt` is not a valid `stapsdt` note.
    case malformedNote(path: String, index: Int, reason: String)
    /// The binary has no probe `provider:name`; `available` lists the probes it has.
    case probeNotFound(ProbeName, available: [String])
    /// A probe's (or its semaphore's) address lies outside the segments it must be in.
    case addressNotInSegment(ProbeName, what: String, address: UInt64, needed: String)
    /// An argument cannot be expressed in a `usdt.bpf.h` spec.
    case unsupportedArgument(ProbeName, USDTArgumentFormatError)
    /// The spec maps of the program's object are missing or have the wrong shape.
    case badSpecMap(name: String, reason: String)
    /// Every spec id of the specs map is in use.
    case specMapFull(ProbeName, capacity: UInt32)
    /// Without BPF cookies the program finds its spec by instruction pointer, which a shared
    /// library only has in a given process: `reason` says what was missing.
    case instructionPointerUnknown(ProbeName, reason: String)
    /// Another attachment already maps this instruction pointer to a different spec.
    case instructionPointerInUse(ProbeName, address: UInt64)

    public var description: String {
        switch self {
        case .unreadableBinary(let path, let error): "cannot read \(path) for USDT probes: \(error)"
        case .noProbes(let path): "\(path) has no USDT probes (no .note.stapsdt section)"
        case .unsupportedArchitecture(let path, let machine): "USDT probes of \(path): architecture \(machine) is not supported"
        case .malformedNote(let path, let index, let reason): "\(path): .note.stapsdt note #\(index): \(reason)"
        case .probeNotFound(let probe, let available):
            "\(probe) not found" + (available.isEmpty ? "" : " (it has \(available.joined(separator: ", ")))")
        case .addressNotInSegment(let probe, let what, let address, let needed):
            "\(probe): \(what) address 0x\(String(address, radix: 16)) is not in \(needed)"
        case .unsupportedArgument(let probe, let error): "\(probe): \(error)"
        case .badSpecMap(let name, let reason): "USDT spec map \(name): \(reason)"
        case .specMapFull(let probe, let capacity): "\(probe): all \(capacity) USDT spec ids are in use"
        case .instructionPointerUnknown(let probe, let reason): "\(probe): \(reason)"
        case .instructionPointerInUse(let probe, let address):
            "\(probe): instruction pointer 0x\(String(address, radix: 16)) is already mapped to another USDT spec"
        }
    }
}
