import EBPFBTF

/// A map as an object file describes it, before it is created.
public struct MapSpec: Sendable, Hashable {
    /// The map's name in the object (a variable in `.maps` or `maps`, or a data section such as `.rodata`).
    public var name: String
    /// The kind of map (`BPF_MAP_TYPE_*`).
    public var type: MapType
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    /// `map_flags` at creation (`BPF_F_NO_PREALLOC`, `BPF_F_RDONLY_PROG`, `BPF_F_MMAPABLE`, ...).
    public var flags: MapFlags
    /// Whether and how the map is pinned in bpffs.
    public var pinning: MapPinning
    /// The NUMA node to allocate on, with `BPF_F_NUMA_NODE`.
    public var numaNode: UInt32
    /// `map_extra`: the bloom filter's hash count, or the arena's address.
    public var mapExtra: UInt64
    /// Entries to write after creation (data sections, program arrays, maps of maps).
    ///
    /// For an arena, one entry with an empty key: the initial bytes of the object's `__arena`
    /// globals (its `.addr_space.1` section), which loading copies to the start of the arena.
    public var contents: [MapEntry]
    /// Freeze the map after writing its contents, so the program sees constant values
    /// (`.rodata` and other read-only data).
    public var freeze: Bool
    /// The key's type in the object's BTF, for BTF-defined maps; nil otherwise.
    public var keyType: BTFTypeID?
    /// The value's type in the object's BTF: the value of a BTF-defined map, the `DATASEC` of a
    /// data-section map, the struct of a struct_ops map; nil otherwise.
    public var valueType: BTFTypeID?
    /// For struct_ops maps: the program each function-pointer member is set to, by member name.
    public var structOpsPrograms: [String: String]
    // An array keeps the recursive inner-map spec on the heap without a class of our own.
    private var innerMapStorage: [MapSpec]

    /// The template for the maps a map-in-map holds.
    public var innerMap: MapSpec? {
        get { innerMapStorage.first }
        set { innerMapStorage = newValue.map { [$0] } ?? [] }
    }

    public init(
        name: String, type: MapType, keySize: UInt32, valueSize: UInt32, maxEntries: UInt32,
        flags: MapFlags = [], pinning: MapPinning = .none, numaNode: UInt32 = 0, mapExtra: UInt64 = 0,
        innerMap: MapSpec? = nil, contents: [MapEntry] = [], freeze: Bool = false,
        keyType: BTFTypeID? = nil, valueType: BTFTypeID? = nil, structOpsPrograms: [String: String] = [:]
    ) {
        self.name = name
        self.type = type
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.flags = flags
        self.pinning = pinning
        self.numaNode = numaNode
        self.mapExtra = mapExtra
        self.contents = contents
        self.freeze = freeze
        self.keyType = keyType
        self.valueType = valueType
        self.structOpsPrograms = structOpsPrograms
        self.innerMapStorage = innerMap.map { [$0] } ?? []
    }
}

extension MapSpec {
    /// The initial bytes of the `__arena` globals an arena holds at offset 0 (its contents' byte
    /// entry); nil for other maps and for arenas without globals.
    public var arenaGlobals: [UInt8]? {
        guard type == .arena else { return nil }
        for entry in contents {
            if case .bytes(let bytes) = entry.value { return bytes }
        }
        return nil
    }
}

/// One entry a map is filled with after it is created.
public struct MapEntry: Sendable, Hashable {
    public var key: [UInt8]
    public var value: Value

    /// What an entry holds: bytes, or a reference the loader turns into a file descriptor.
    public enum Value: Sendable, Hashable {
        case bytes([UInt8])
        /// A program of the same collection, by name (program arrays).
        case program(String)
        /// A map of the same collection, by name (maps of maps).
        case map(String)
    }

    public init(key: [UInt8], value: Value) {
        self.key = key
        self.value = value
    }
}

/// Whether a map is pinned, as `LIBBPF_PIN_*` says.
public struct MapPinning: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `LIBBPF_PIN_NONE`.
    public static let none = MapPinning(rawValue: 0)
    /// `LIBBPF_PIN_BY_NAME`: pinned under the pin path by the map's name, and reused when present.
    public static let byName = MapPinning(rawValue: 1)

    /// An iproute2 pinning value of a legacy `bpf_elf_map` that libbpf has no constant for:
    /// `PIN_OBJECT_NS` (1) or a custom namespace id. Stored above 0xFFFF so that it never equals
    /// a `LIBBPF_PIN_*` value.
    public static func iproute2(_ value: UInt32) -> MapPinning {
        MapPinning(rawValue: 0x1_0000 &+ value)
    }
}

/// Flags for creating a map (`map_flags` of `BPF_MAP_CREATE`).
public struct MapFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BPF_F_NO_PREALLOC`.
    public static let noPreallocation = MapFlags(rawValue: 1 << 0)
    /// `BPF_F_NO_COMMON_LRU`.
    public static let noCommonLRU = MapFlags(rawValue: 1 << 1)
    /// `BPF_F_NUMA_NODE`.
    public static let numaNode = MapFlags(rawValue: 1 << 2)
    /// `BPF_F_RDONLY`: read-only for user space.
    public static let readOnly = MapFlags(rawValue: 1 << 3)
    /// `BPF_F_WRONLY`: write-only for user space.
    public static let writeOnly = MapFlags(rawValue: 1 << 4)
    /// `BPF_F_STACK_BUILD_ID`.
    public static let stackBuildID = MapFlags(rawValue: 1 << 5)
    /// `BPF_F_ZERO_SEED`.
    public static let zeroSeed = MapFlags(rawValue: 1 << 6)
    /// `BPF_F_RDONLY_PROG`: read-only for programs.
    public static let readOnlyProgram = MapFlags(rawValue: 1 << 7)
    /// `BPF_F_WRONLY_PROG`: write-only for programs.
    public static let writeOnlyProgram = MapFlags(rawValue: 1 << 8)
    /// `BPF_F_CLONE`.
    public static let clone = MapFlags(rawValue: 1 << 9)
    /// `BPF_F_MMAPABLE`: the map can be memory-mapped.
    public static let mmapable = MapFlags(rawValue: 1 << 10)
    /// `BPF_F_PRESERVE_ELEMS`.
    public static let preserveElements = MapFlags(rawValue: 1 << 11)
    /// `BPF_F_INNER_MAP`.
    public static let innerMap = MapFlags(rawValue: 1 << 12)
    /// `BPF_F_LINK`.
    public static let link = MapFlags(rawValue: 1 << 13)
    /// `BPF_F_PATH_FD`.
    public static let pathFileDescriptor = MapFlags(rawValue: 1 << 14)
    /// `BPF_F_VTYPE_BTF_OBJ_FD`.
    public static let valueTypeBTFObjectFileDescriptor = MapFlags(rawValue: 1 << 15)
    /// `BPF_F_TOKEN_FD`.
    public static let tokenFileDescriptor = MapFlags(rawValue: 1 << 16)
    /// `BPF_F_SEGV_ON_FAULT`.
    public static let segfaultOnFault = MapFlags(rawValue: 1 << 17)
    /// `BPF_F_NO_USER_CONV`.
    public static let noUserConversion = MapFlags(rawValue: 1 << 18)
}
