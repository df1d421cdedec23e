// Constructors for the 64-bit immediate load, memory loads and stores, atomics and the legacy
// packet loads.

extension Instruction {
    // MARK: 64-bit immediates

    /// `dst = imm64 ll`, or with another ``LoadImmediateSource`` a pseudo load the kernel rewrites.
    /// `BPF_LD | BPF_IMM | BPF_DW` (16 bytes).
    public static func loadImm64(_ dst: Register, _ value: Int64, source: LoadImmediateSource = .value) -> Instruction {
        Instruction(opCode: .loadImmediate64, destination: dst, source: Register(rawValue: source.rawValue), constant: value)
    }

    /// `dst = &map`: the address of the map named `map`, whose file descriptor the loader fills in.
    /// `BPF_PSEUDO_MAP_FD`.
    public static func loadMapPointer(_ dst: Register, map: String) -> Instruction {
        loadImm64(dst, 0, source: .mapFileDescriptor).withReference(map)
    }

    /// `dst = &map` for an already created map. `BPF_PSEUDO_MAP_FD`. The descriptor fills the low
    /// half of the immediate only.
    public static func loadMapPointer(_ dst: Register, fileDescriptor: Int32) -> Instruction {
        loadImm64(dst, pair(low: fileDescriptor, high: 0), source: .mapFileDescriptor)
    }

    /// `dst = &map` for the map at `index` in `fd_array`. `BPF_PSEUDO_MAP_IDX`.
    public static func loadMapPointer(_ dst: Register, mapIndex index: Int32) -> Instruction {
        loadImm64(dst, pair(low: index, high: 0), source: .mapIndex)
    }

    /// `dst = &map.value + offset` for the map named `map` (an array map with one element, such as
    /// `.data`). `BPF_PSEUDO_MAP_VALUE`.
    public static func loadMapValue(_ dst: Register, map: String, offset: UInt32 = 0) -> Instruction {
        loadImm64(dst, pair(low: 0, high: offset), source: .mapValue).withReference(map)
    }

    /// `dst = &map.value + offset` for an already created map. `BPF_PSEUDO_MAP_VALUE`.
    public static func loadMapValue(_ dst: Register, fileDescriptor: Int32, offset: UInt32 = 0) -> Instruction {
        loadImm64(dst, pair(low: fileDescriptor, high: offset), source: .mapValue)
    }

    /// `dst = &map.value + offset` for the map at `index` in `fd_array`. `BPF_PSEUDO_MAP_IDX_VALUE`.
    public static func loadMapValue(_ dst: Register, mapIndex index: Int32, offset: UInt32 = 0) -> Instruction {
        loadImm64(dst, pair(low: index, high: offset), source: .mapIndexValue)
    }

    /// `dst = &kernel_variable` by BTF id. `BPF_PSEUDO_BTF_ID`.
    public static func loadKernelVariable(_ dst: Register, btfID: Int32) -> Instruction {
        loadImm64(dst, pair(low: btfID, high: 0), source: .btfID)
    }

    /// `dst = &function` for the subprogram or label named `function`, resolved like a call.
    /// `BPF_PSEUDO_FUNC`.
    public static func loadFunctionAddress(_ dst: Register, function: String) -> Instruction {
        loadImm64(dst, 0, source: .function).withReference(function)
    }

    private static func pair(low: Int32, high: UInt32) -> Int64 {
        Int64(bitPattern: UInt64(high) << 32 | UInt64(UInt32(bitPattern: low)))
    }

    // MARK: Memory

    /// `dst = *(size *)(src + offset)`, zero-extending. `BPF_LDX | BPF_MEM | size`.
    public static func load(_ dst: Register, from src: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.ldx, size: size, mode: .memory), destination: dst, source: src, offset: offset)
    }

    /// `dst = *(s8/s16/s32 *)(src + offset)`, sign-extending. `BPF_LDX | BPF_MEMSX | size`.
    /// Requires Linux 6.6.
    public static func loadSignExtend(_ dst: Register, from src: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.ldx, size: size, mode: .memorySignExtend), destination: dst, source: src, offset: offset)
    }

    /// `*(size *)(dst + offset) = imm`. `BPF_ST | BPF_MEM | size`.
    public static func store(_ value: Int32, to dst: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.st, size: size, mode: .memory), destination: dst, offset: offset, constant: Int64(value))
    }

    /// `*(size *)(dst + offset) = src`. `BPF_STX | BPF_MEM | size`.
    public static func store(_ src: Register, to dst: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.stx, size: size, mode: .memory), destination: dst, source: src, offset: offset)
    }

    // MARK: Atomics

    /// An atomic operation on `*(size *)(dst + offset)` with `src`. `BPF_STX | BPF_ATOMIC | size`.
    ///
    /// The fetching forms return the old value in `src`; ``AtomicOperation/compareExchange``
    /// compares with and returns into `r0`.
    public static func atomic(
        _ operation: AtomicOperation,
        _ src: Register,
        on dst: Register,
        offset: Int16 = 0,
        size: AccessSize
    ) -> Instruction {
        Instruction(
            opCode: OpCode(.stx, size: size, mode: .atomic),
            destination: dst,
            source: src,
            offset: offset,
            constant: Int64(operation.rawValue)
        )
    }

    /// `dst = load_acquire((size *)(src + offset))`. `BPF_STX | BPF_ATOMIC` with `BPF_LOAD_ACQ`:
    /// unlike the other atomics, the base is in the source field, as for a load. Requires Linux 6.15.
    public static func loadAcquire(_ dst: Register, from src: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        Instruction(
            opCode: OpCode(.stx, size: size, mode: .atomic),
            destination: dst,
            source: src,
            offset: offset,
            constant: Int64(AtomicOperation.loadAcquire.rawValue)
        )
    }

    /// `store_release((size *)(dst + offset), src)`. `BPF_STX | BPF_ATOMIC` with `BPF_STORE_REL`.
    /// Requires Linux 6.15.
    public static func storeRelease(_ src: Register, to dst: Register, offset: Int16 = 0, size: AccessSize) -> Instruction {
        atomic(.storeRelease, src, on: dst, offset: offset, size: size)
    }

    // MARK: Legacy packet access

    /// `r0 = *(size *)skb[offset]`: legacy packet load, for socket filters. `BPF_LD | BPF_ABS | size`.
    public static func loadAbsolute(offset: Int32, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.ld, size: size, mode: .absolute), constant: Int64(offset))
    }

    /// `r0 = *(size *)skb[src + offset]`: legacy packet load, for socket filters. `BPF_LD | BPF_IND | size`.
    public static func loadIndirect(_ src: Register, offset: Int32 = 0, size: AccessSize) -> Instruction {
        Instruction(opCode: OpCode(.ld, size: size, mode: .indirect), source: src, constant: Int64(offset))
    }
}
