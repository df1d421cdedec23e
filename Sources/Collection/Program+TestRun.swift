import EBPFSys

/// What one `BPF_PROG_TEST_RUN` reported.
public struct ProgramTestRunResult: Sendable, Hashable {
    /// The program's return value.
    public var returnValue: UInt32
    /// The average time of one run, in nanoseconds.
    public var durationNanoseconds: UInt32
    /// The packet as the program left it (empty when no packet was given).
    public var data: [UInt8]
    /// The context as the program left it (empty when no context was given).
    public var context: [UInt8]

    /// The average time of one run.
    public var duration: Duration {
        .nanoseconds(Int64(durationNanoseconds))
    }
}

extension Program {
    /// The room added to the packet's size for the output, since programs may grow the packet
    /// (`bpf_xdp_adjust_tail`, `bpf_skb_change_tail`).
    public static let testRunOutputHeadroom = 256

    /// Runs the program in the kernel on `data` and `context` (`BPF_PROG_TEST_RUN`), `repeat`
    /// times, and returns the result of the last run with the average duration.
    ///
    /// Which program types can be run, and what `data` and `context` must hold, is the kernel's
    /// choice: socket filters and TC programs take an Ethernet frame of at least 14 bytes and
    /// optionally a `__sk_buff` context; XDP programs a frame and optionally an `xdp_md`; raw
    /// tracepoints take only a context (the tracepoint's arguments, 8 bytes each) and run once,
    /// in the calling thread, whatever `repeat` says.
    ///
    /// - Parameter dataOutCapacity: room for the output packet; by default the input's size plus
    ///   ``testRunOutputHeadroom``.
    /// - Parameter options: flags, CPU and batch size for the kernel (``TestRunOptions``).
    public func testRun(
        data: [UInt8] = [], context: [UInt8] = [], repeat count: UInt32 = 1, dataOutCapacity: Int? = nil,
        options: TestRunOptions = TestRunOptions()
    ) throws(ProgramError) -> ProgramTestRunResult {
        let outCapacity = data.isEmpty ? 0 : max(dataOutCapacity ?? data.count + Program.testRunOutputHeadroom, 0)
        guard let dataSize = UInt32(exactly: data.count), let outSize = UInt32(exactly: outCapacity),
            let contextSize = UInt32(exactly: context.count)
        else {
            throw error(.testRun, .syscall(BPFSyscallError(command: .progTestRun, errno: .argumentListTooLong)))
        }
        var dataOut = [UInt8](repeating: 0, count: outCapacity)
        var contextOut = [UInt8](repeating: 0, count: context.count)
        let isRawTracepoint = type == .rawTracepoint || type == .rawTracepointWritable
        let attributes = try withRawDescriptor(.testRun) { (raw: UInt32) throws(ProgramError) -> ProgTestRunAttr in
            var attributes = ProgTestRunAttr()
            attributes.progFD = raw
            attributes.repeat = count
            attributes.dataSizeIn = dataSize
            attributes.dataSizeOut = outSize
            attributes.ctxSizeIn = contextSize
            attributes.ctxSizeOut = contextSize
            attributes.flags = options.flags.rawValue
            attributes.cpu = options.cpu ?? 0
            if options.cpu != nil { attributes.flags |= TestRunOptions.Flags.onCPU.rawValue }
            attributes.batchSize = options.batchSize
            let result = data.withUnsafeBytes { dataIn in
                dataOut.withUnsafeMutableBytes { dataOutBytes in
                    context.withUnsafeBytes { contextIn in
                        contextOut.withUnsafeMutableBytes { contextOutBytes in
                            attributes.dataIn = dataSize > 0 ? Sys.address(of: dataIn.baseAddress) : 0
                            attributes.dataOut = outSize > 0 ? Sys.address(of: dataOutBytes.baseAddress) : 0
                            attributes.ctxIn = contextSize > 0 ? Sys.address(of: contextIn.baseAddress) : 0
                            attributes.ctxOut = contextSize > 0 ? Sys.address(of: contextOutBytes.baseAddress) : 0
                            if isRawTracepoint {
                                // The kernel runs raw tracepoints once, on the arguments only,
                                // and refuses a repeat count or an output context.
                                attributes.repeat = 0
                                attributes.ctxSizeOut = 0
                                attributes.ctxOut = 0
                            }
                            return Result { () throws(BPFSyscallError) in try Sys.progTestRun(&attributes) }
                        }
                    }
                }
            }
            do throws(BPFSyscallError) {
                try result.get()
            } catch where error.errno == .noSpace && Int(attributes.dataSizeOut) > outCapacity {
                throw self.error(.testRun, .outputTooLarge(needed: Int(attributes.dataSizeOut), offered: outCapacity))
            } catch {
                throw self.error(.testRun, .syscall(error))
            }
            return attributes
        }
        dataOut.removeSubrange(min(Int(attributes.dataSizeOut), dataOut.count)...)
        contextOut.removeSubrange(min(Int(attributes.ctxSizeOut), contextOut.count)...)
        return ProgramTestRunResult(
            returnValue: attributes.retval, durationNanoseconds: attributes.duration, data: dataOut, context: contextOut)
    }
}

/// What `BPF_PROG_TEST_RUN` takes besides input and repeat count.
public struct TestRunOptions: Sendable, Hashable {
    /// `BPF_F_TEST_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `BPF_F_TEST_RUN_ON_CPU`: run on ``TestRunOptions/cpu`` (raw tracepoints; Linux 5.10).
        /// Set for you when `cpu` is given.
        public static let onCPU = Flags(rawValue: 1 << 0)
        /// `BPF_F_TEST_XDP_LIVE_FRAMES`: XDP frames are really sent or redirected (Linux 5.18).
        public static let xdpLiveFrames = Flags(rawValue: 1 << 1)
        /// `BPF_F_TEST_SKB_CHECKSUM_COMPLETE` (Linux 6.11).
        public static let skbChecksumComplete = Flags(rawValue: 1 << 2)
    }

    public var flags: Flags
    /// The CPU to run on (raw tracepoint programs).
    public var cpu: UInt32?
    /// For ``Flags/xdpLiveFrames``: how many frames to send per batch (0: the kernel's default).
    public var batchSize: UInt32

    public init(flags: Flags = [], cpu: UInt32? = nil, batchSize: UInt32 = 0) {
        self.flags = flags
        self.cpu = cpu
        self.batchSize = batchSize
    }
}
