import EBPFSys

extension Program {
    /// A program as the kernel describes it.
    public struct Info: Sendable, Hashable {
        public var type: ProgramType
        /// The kernel-wide ID.
        public var id: UInt32
        /// A hash of the instructions, as 16 hexadecimal digits (what bpftool shows).
        public var tag: String
        /// The name as the kernel keeps it (at most 15 bytes).
        public var name: String
        /// The IDs of the maps the program uses.
        public var mapIDs: [UInt32]
        /// The total time the program ran, in nanoseconds, while statistics were enabled
        /// (`BPF_ENABLE_STATS` or the `kernel.bpf_stats_enabled` sysctl).
        public var runTimeNanoseconds: UInt64
        /// How often the program ran while statistics were enabled.
        public var runCount: UInt64
        /// How many instructions the verifier processed (Linux 5.16; 0 before).
        public var verifiedInstructions: UInt32
        /// The size of the program after the kernel's rewrites, in instructions.
        public var translatedInstructionCount: Int
        /// Whether the license is GPL-compatible.
        public var isGPLCompatible: Bool
        /// The ID of the program's BTF, 0 without.
        public var btfID: UInt32
        /// When the program was loaded, in nanoseconds since boot.
        public var loadTime: UInt64
        /// The user that loaded the program.
        public var createdByUID: UInt32
        /// The size of the JIT-compiled machine code in bytes; 0 when the program is interpreted.
        public var jitedSize: Int = 0
        /// How often the program was not run because it was already running on that CPU (Linux 5.12).
        public var recursionMisses: UInt64 = 0
        /// For programs loaded against a BTF function (tracing, LSM, `freplace`, struct_ops): the
        /// ID of the BTF object holding the target (vmlinux, a module's or a program's BTF) and the
        /// target's type ID in it; 0 otherwise (Linux 5.16).
        public var attachBTFObjectID: UInt32 = 0
        public var attachBTFTypeID: UInt32 = 0
        /// The interface of a device-bound (offloaded) program; 0 otherwise.
        public var ifindex: UInt32 = 0
        /// How many functions (the main program and its subprograms) the program has, from its
        /// func info; 0 without BTF.
        public var functionInfoCount: Int = 0
        /// How many line info records the program has; 0 without BTF.
        public var lineInfoCount: Int = 0
        /// How many JIT-compiled functions the program has.
        public var jitedFunctionCount: Int = 0
    }

    /// What the kernel reports about the program (`BPF_OBJ_GET_INFO_BY_FD`).
    public func info() throws(ProgramError) -> Info {
        try withRawDescriptor(.info) { (raw: UInt32) throws(ProgramError) -> Info in
            var info = try fetchInfo(raw, mapIDs: nil)
            var mapIDs = [UInt32](repeating: 0, count: Int(info.nrMapIDs))
            if !mapIDs.isEmpty {
                // A second call with room for the map IDs; the count may have changed meanwhile.
                info = try mapIDs.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<UInt32>) throws(ProgramError) -> ProgInfo in
                    try fetchInfo(raw, mapIDs: buffer)
                }
                mapIDs.removeSubrange(min(Int(info.nrMapIDs), mapIDs.count)...)
            }
            let tag = info.tagBytes.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
            return Info(
                type: ProgramType(rawValue: info.type), id: info.id, tag: tag, name: info.name.string, mapIDs: mapIDs,
                runTimeNanoseconds: info.runTimeNs, runCount: info.runCnt, verifiedInstructions: info.verifiedInsns,
                translatedInstructionCount: Int(info.xlatedProgLen) / 8, isGPLCompatible: info.isGPLCompatible,
                btfID: info.btfID, loadTime: info.loadTime, createdByUID: info.createdByUID,
                jitedSize: Int(info.jitedProgLen), recursionMisses: info.recursionMisses,
                attachBTFObjectID: info.attachBTFObjID, attachBTFTypeID: info.attachBTFID, ifindex: info.ifindex,
                functionInfoCount: Int(info.nrFuncInfo), lineInfoCount: Int(info.nrLineInfo),
                jitedFunctionCount: Int(info.nrJitedKsyms))
        }
    }

    private func fetchInfo(_ raw: UInt32, mapIDs: UnsafeMutableBufferPointer<UInt32>?) throws(ProgramError) -> ProgInfo {
        try infoCall(raw) { info in
            if let mapIDs {
                info.nrMapIDs = UInt32(truncatingIfNeeded: mapIDs.count)
                info.mapIDs = Sys.address(of: mapIDs.baseAddress)
            }
        }
    }

    /// How many instructions the verifier processed to accept the program (`verified_insns`;
    /// Linux 5.16, 0 before).
    public func verifiedInstructionCount() throws(ProgramError) -> UInt32 {
        try info().verifiedInstructions
    }

    /// The statistics the verifier printed at the end of its log, when the program was loaded with
    /// a log level (``VerifierLogLevel/statistics`` is enough); nil otherwise.
    public var verifierStatistics: VerifierStatistics? {
        VerifierStatistics(log: verifierLog)
    }
}

/// The summary the verifier appends to its log: `processed 12 insns (limit 1000000)
/// max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0` and `verification time 25 usec`.
public struct VerifierStatistics: Sendable, Hashable {
    /// Instructions processed, counting each path through the program.
    public var processedInstructions: Int
    /// The verifier's limit on processed instructions.
    public var instructionLimit: Int?
    public var totalStates: Int?
    public var peakStates: Int?
    public var maxStatesPerInstruction: Int?
    /// The time verification took, in microseconds.
    public var verificationTimeMicroseconds: Int?

    /// Reads the statistics from a verifier log; nil when it has none.
    public init?(log: String) {
        var processed: Int?
        var values: [String: Int] = [:]
        var verificationTime: Int?
        for line in log.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ")
            if words.first == "processed", words.count >= 3, let count = Int(words[1]) {
                processed = count
                var index = 3
                while index + 1 < words.count {
                    if let value = Int(words[index + 1].filter(\.isNumber)) {
                        values[String(words[index].filter { $0 != "(" })] = value
                    }
                    index += 2
                }
            } else if line.hasPrefix("verification time"), words.count >= 3 {
                verificationTime = Int(words[2])
            }
        }
        guard let processed else { return nil }
        processedInstructions = processed
        instructionLimit = values["limit"]
        totalStates = values["total_states"]
        peakStates = values["peak_states"]
        maxStatesPerInstruction = values["max_states_per_insn"]
        verificationTimeMicroseconds = verificationTime
    }
}
