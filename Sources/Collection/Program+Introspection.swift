import EBPFASM
import EBPFSys

// What the kernel keeps of a loaded program beyond its info: the translated (verified and
// rewritten) instructions with their func and line info, the JIT-compiled image and symbols, and
// the memory the program is charged for.

/// One instruction of a loaded program as the kernel reports it after verification and rewrites
/// (`xlated_prog_insns`).
public struct TranslatedInstruction: Sendable, Hashable {
    /// The 8-byte slot the instruction starts at (a 16-byte `lddw` takes two).
    public var slot: Int
    /// The instruction's raw bytes in the machine's byte order (8, or 16 for `lddw`).
    public var bytes: [UInt8]
    /// The decoded instruction; nil for an encoding this disassembler does not know (the kernel
    /// may rewrite to internal opcodes).
    public var instruction: Instruction?

    /// The opcode byte.
    public var opCode: UInt8 { bytes.first ?? 0 }
}

/// A line info record of a loaded program: which source line the instructions from `slot` on
/// came from. The names are offsets into the string table of the program's BTF.
public struct KernelLineInfo: Sendable, Hashable {
    /// The instruction slot in the translated program.
    public var slot: Int
    public var fileNameOffset: UInt32
    public var lineOffset: UInt32
    public var lineNumber: UInt32
    public var column: UInt32
}

/// A func info record of a loaded program: the function starting at `slot` and its
/// `BTF_KIND_FUNC` type in the program's BTF.
public struct KernelFunctionInfo: Sendable, Hashable {
    public var slot: Int
    public var typeID: UInt32
}

/// The translated program with the debug information the kernel keeps for it.
public struct TranslatedProgram: Sendable, Hashable {
    public var instructions: [TranslatedInstruction]
    /// Sorted by slot; empty for a program loaded without BTF line info.
    public var lineInfos: [KernelLineInfo]
    /// Sorted by slot; empty for a program loaded without BTF func info.
    public var functionInfos: [KernelFunctionInfo]
    /// The ID of the BTF object the string offsets and type IDs refer to; 0 without.
    public var btfID: UInt32
}

/// The JIT-compiled code of a loaded program.
public struct JITedImage: Sendable, Hashable {
    /// The machine code of all functions, one after the other.
    public var bytes: [UInt8]
    /// The kernel address of each function (empty unless the caller may see kernel addresses:
    /// `kernel.kptr_restrict` and CAP_SYSLOG decide).
    public var functionAddresses: [UInt64]
    /// The length in bytes of each function within ``bytes``.
    public var functionLengths: [UInt32]
}

extension Program {
    /// The instructions as the kernel runs them, after verification and its rewrites
    /// (`xlated_prog_insns`), with the func and line info of the program's BTF.
    ///
    /// Map references read `lddw` with source register 1 and the map's ID as immediate; helper
    /// calls carry the kernel's offset of the helper (0 unless raw addresses may be shown).
    /// Requires CAP_SYS_ADMIN (or CAP_BPF with CAP_PERFMON): without, the kernel reports no
    /// instructions and this throws `EPERM`-like errors from the kernel or returns an empty list.
    public func translatedProgram() throws(ProgramError) -> TranslatedProgram {
        try withRawDescriptor(.info) { (raw: UInt32) throws(ProgramError) -> TranslatedProgram in
            let sizes = try infoCall(raw) { _ in }
            let byteCount = Int(sizes.xlatedProgLen)
            // Records are 16 and 8 bytes today, and the kernel refuses any size but its own
            // (EINVAL); the cap keeps count times size far from overflowing whatever it reports.
            let lineCount = Int(sizes.nrLineInfo), lineRecord = min(max(Int(sizes.lineInfoRecSize), 16), 4096)
            let funcCount = Int(sizes.nrFuncInfo), funcRecord = min(max(Int(sizes.funcInfoRecSize), 8), 4096)
            var code = [UInt8](repeating: 0, count: byteCount)
            var lines = [UInt8](repeating: 0, count: lineCount * lineRecord)
            var funcs = [UInt8](repeating: 0, count: funcCount * funcRecord)
            let filled = try code.withMutableBytes { (codeBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                try lines.withMutableBytes { (lineBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                    try funcs.withMutableBytes { (funcBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                        try infoCall(raw) { info in
                            info.xlatedProgLen = UInt32(truncatingIfNeeded: byteCount)
                            info.xlatedProgInsns = Sys.address(of: codeBytes.baseAddress)
                            info.nrLineInfo = UInt32(truncatingIfNeeded: lineCount)
                            info.lineInfoRecSize = UInt32(truncatingIfNeeded: lineRecord)
                            info.lineInfo = Sys.address(of: lineBytes.baseAddress)
                            info.nrFuncInfo = UInt32(truncatingIfNeeded: funcCount)
                            info.funcInfoRecSize = UInt32(truncatingIfNeeded: funcRecord)
                            info.funcInfo = Sys.address(of: funcBytes.baseAddress)
                        }
                    }
                }
            }
            // The program cannot change, but a kernel that hides the code (no CAP_PERFMON) reports
            // a length of 0 on the second call: show what was copied.
            let copied = min(Int(filled.xlatedProgLen), byteCount)
            var instructions: [TranslatedInstruction] = []
            var offset = 0
            while offset + 8 <= copied {
                let width = code[offset] == 0x18 && offset + 16 <= copied ? 16 : 8
                let slice = Array(code[offset..<offset + width])
                let decoded = try? Instruction.decode(slice, byteOrder: .host)
                instructions.append(TranslatedInstruction(slot: offset / 8, bytes: slice, instruction: decoded?.first))
                offset += width
            }
            var lineInfos: [KernelLineInfo] = []
            for index in 0..<min(lineCount, Int(filled.nrLineInfo)) {
                let base = index * lineRecord
                let lineCol = load(lines, base + 12)
                lineInfos.append(
                    KernelLineInfo(
                        slot: Int(load(lines, base)), fileNameOffset: load(lines, base + 4), lineOffset: load(lines, base + 8),
                        lineNumber: lineCol >> 10, column: lineCol & 0x3ff))
            }
            var functionInfos: [KernelFunctionInfo] = []
            for index in 0..<min(funcCount, Int(filled.nrFuncInfo)) {
                let base = index * funcRecord
                functionInfos.append(KernelFunctionInfo(slot: Int(load(funcs, base)), typeID: load(funcs, base + 4)))
            }
            return TranslatedProgram(
                instructions: instructions, lineInfos: lineInfos.sorted { $0.slot < $1.slot },
                functionInfos: functionInfos.sorted { $0.slot < $1.slot }, btfID: filled.btfID)
        }
    }

    /// The JIT-compiled machine code and the address and length of each function. Empty for an
    /// interpreted program.
    public func jitedImage() throws(ProgramError) -> JITedImage {
        try withRawDescriptor(.info) { (raw: UInt32) throws(ProgramError) -> JITedImage in
            let sizes = try infoCall(raw) { _ in }
            let byteCount = Int(sizes.jitedProgLen)
            let symbolCount = Int(sizes.nrJitedKsyms), lengthCount = Int(sizes.nrJitedFuncLens)
            var code = [UInt8](repeating: 0, count: byteCount)
            var addresses = [UInt64](repeating: 0, count: symbolCount)
            var lengths = [UInt32](repeating: 0, count: lengthCount)
            let filled = try code.withMutableBytes { (codeBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                try addresses.withMutableBytes { (addressBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                    try lengths.withMutableBytes { (lengthBytes: UnsafeMutableRawBufferPointer) throws(ProgramError) -> ProgInfo in
                        try infoCall(raw) { info in
                            info.jitedProgLen = UInt32(truncatingIfNeeded: byteCount)
                            info.jitedProgInsns = Sys.address(of: codeBytes.baseAddress)
                            info.nrJitedKsyms = UInt32(truncatingIfNeeded: symbolCount)
                            info.jitedKsyms = Sys.address(of: addressBytes.baseAddress)
                            info.nrJitedFuncLens = UInt32(truncatingIfNeeded: lengthCount)
                            info.jitedFuncLens = Sys.address(of: lengthBytes.baseAddress)
                        }
                    }
                }
            }
            code.removeSubrange(min(Int(filled.jitedProgLen), code.count)...)
            return JITedImage(bytes: code, functionAddresses: addresses, functionLengths: lengths)
        }
    }

    /// The bytes of memory the kernel charges the program to its creator (fdinfo's `memlock`,
    /// what bpftool prints as `bytes_memlock`); nil when procfs does not say.
    public func memoryLockedBytes() throws(ProgramError) -> UInt64? {
        try withRawDescriptor(.info) { (raw: UInt32) -> UInt64? in
            Sys.descriptorInfo(descriptorValue: Int32(bitPattern: raw))?["memlock"].flatMap { UInt64($0) }
        }
    }

    /// Keeps `map` alive for as long as this program is loaded, although no instruction refers to
    /// it (`BPF_PROG_BIND_MAP`, Linux 5.10); it then appears in ``Info/mapIDs``.
    public func bind(_ map: Map) throws(ProgramError) {
        let done: Void? = try map.withFileDescriptorValue { (mapNumber: Int32) throws(ProgramError) in
            try withRawDescriptor(.bindMap) { (raw: UInt32) throws(ProgramError) in
                var attributes = ProgBindMapAttr()
                attributes.progFD = raw
                attributes.mapFD = UInt32(bitPattern: mapNumber)
                do throws(BPFSyscallError) {
                    try Sys.progBindMap(attributes)
                } catch {
                    throw self.error(.bindMap, .syscall(error))
                }
            }
        }
        if done == nil { throw error(.bindMap, .closed) }
    }

    /// One `BPF_OBJ_GET_INFO_BY_FD` call with `prepare` filling pointer fields beforehand.
    func infoCall(_ raw: UInt32, _ prepare: (inout ProgInfo) -> Void) throws(ProgramError) -> ProgInfo {
        var info = ProgInfo()
        prepare(&info)
        var attributes = ObjGetInfoByFDAttr()
        attributes.bpfFD = raw
        attributes.infoLen = UInt32(MemoryLayout<ProgInfo>.size)
        let result = withUnsafeMutableBytes(of: &info) { bytes in
            attributes.info = Sys.address(of: bytes.baseAddress)
            return Result { () throws(BPFSyscallError) in try Sys.objGetInfoByFD(&attributes) }
        }
        do throws(BPFSyscallError) {
            try result.get()
        } catch {
            throw self.error(.info, .syscall(error))
        }
        return info
    }
}

/// A 32-bit word of a record the kernel wrote in the machine's byte order; 0 past the end.
private func load(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    guard offset >= 0, offset + 4 <= bytes.count else { return 0 }
    return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
}

// MARK: - Run-time statistics

/// Run-time statistics for every program, on for as long as this handle is open
/// (`BPF_ENABLE_STATS` with `BPF_STATS_RUN_TIME`, Linux 5.8). While any such handle (or the
/// `kernel.bpf_stats_enabled` sysctl) is on, ``Program/Info/runTimeNanoseconds`` and
/// ``Program/Info/runCount`` count.
///
/// ```swift
/// let statistics = try RunTimeStatistics()
/// defer { statistics.close() }
/// ```
public final class RunTimeStatistics: Sendable {
    private let descriptor: SharedDescriptor

    /// Turns statistics on. Requires CAP_SYS_ADMIN.
    public init() throws(BPFSyscallError) {
        var attributes = EnableStatsAttr()
        attributes.type = 0  // BPF_STATS_RUN_TIME
        descriptor = SharedDescriptor(try Sys.enableStats(attributes))
    }

    /// Turns this handle's share of statistics off. Calling it again does nothing.
    public func close() {
        _ = try? descriptor.close()
    }

    /// Whether ``close()`` ran.
    public var isClosed: Bool { descriptor.isClosed }
}
