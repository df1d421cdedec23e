/// A command of the bpf(2) system call (the kernel's `enum bpf_cmd`).
///
/// A struct over the raw number rather than an enum: newer kernels add commands, and a number this
/// library does not name must still be representable and printable.
public struct BPFCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The kernel's `BPF_MAP_CREATE`.
    public static let mapCreate = BPFCommand(rawValue: 0)
    /// The kernel's `BPF_MAP_LOOKUP_ELEM`.
    public static let mapLookupElem = BPFCommand(rawValue: 1)
    /// The kernel's `BPF_MAP_UPDATE_ELEM`.
    public static let mapUpdateElem = BPFCommand(rawValue: 2)
    /// The kernel's `BPF_MAP_DELETE_ELEM`.
    public static let mapDeleteElem = BPFCommand(rawValue: 3)
    /// The kernel's `BPF_MAP_GET_NEXT_KEY`.
    public static let mapGetNextKey = BPFCommand(rawValue: 4)
    /// The kernel's `BPF_PROG_LOAD`.
    public static let progLoad = BPFCommand(rawValue: 5)
    /// The kernel's `BPF_OBJ_PIN`.
    public static let objPin = BPFCommand(rawValue: 6)
    /// The kernel's `BPF_OBJ_GET`.
    public static let objGet = BPFCommand(rawValue: 7)
    /// The kernel's `BPF_PROG_ATTACH`.
    public static let progAttach = BPFCommand(rawValue: 8)
    /// The kernel's `BPF_PROG_DETACH`.
    public static let progDetach = BPFCommand(rawValue: 9)
    /// The kernel's `BPF_PROG_TEST_RUN`.
    public static let progTestRun = BPFCommand(rawValue: 10)
    /// The kernel's `BPF_PROG_RUN` (the same number as `BPF_PROG_TEST_RUN`; newer name).
    public static let progRun = BPFCommand(rawValue: 10)
    /// The kernel's `BPF_PROG_GET_NEXT_ID`.
    public static let progGetNextID = BPFCommand(rawValue: 11)
    /// The kernel's `BPF_MAP_GET_NEXT_ID`.
    public static let mapGetNextID = BPFCommand(rawValue: 12)
    /// The kernel's `BPF_PROG_GET_FD_BY_ID`.
    public static let progGetFDByID = BPFCommand(rawValue: 13)
    /// The kernel's `BPF_MAP_GET_FD_BY_ID`.
    public static let mapGetFDByID = BPFCommand(rawValue: 14)
    /// The kernel's `BPF_OBJ_GET_INFO_BY_FD`.
    public static let objGetInfoByFD = BPFCommand(rawValue: 15)
    /// The kernel's `BPF_PROG_QUERY`.
    public static let progQuery = BPFCommand(rawValue: 16)
    /// The kernel's `BPF_RAW_TRACEPOINT_OPEN`.
    public static let rawTracepointOpen = BPFCommand(rawValue: 17)
    /// The kernel's `BPF_BTF_LOAD`.
    public static let btfLoad = BPFCommand(rawValue: 18)
    /// The kernel's `BPF_BTF_GET_FD_BY_ID`.
    public static let btfGetFDByID = BPFCommand(rawValue: 19)
    /// The kernel's `BPF_TASK_FD_QUERY`.
    public static let taskFDQuery = BPFCommand(rawValue: 20)
    /// The kernel's `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
    public static let mapLookupAndDeleteElem = BPFCommand(rawValue: 21)
    /// The kernel's `BPF_MAP_FREEZE`.
    public static let mapFreeze = BPFCommand(rawValue: 22)
    /// The kernel's `BPF_BTF_GET_NEXT_ID`.
    public static let btfGetNextID = BPFCommand(rawValue: 23)
    /// The kernel's `BPF_MAP_LOOKUP_BATCH`.
    public static let mapLookupBatch = BPFCommand(rawValue: 24)
    /// The kernel's `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
    public static let mapLookupAndDeleteBatch = BPFCommand(rawValue: 25)
    /// The kernel's `BPF_MAP_UPDATE_BATCH`.
    public static let mapUpdateBatch = BPFCommand(rawValue: 26)
    /// The kernel's `BPF_MAP_DELETE_BATCH`.
    public static let mapDeleteBatch = BPFCommand(rawValue: 27)
    /// The kernel's `BPF_LINK_CREATE`.
    public static let linkCreate = BPFCommand(rawValue: 28)
    /// The kernel's `BPF_LINK_UPDATE`.
    public static let linkUpdate = BPFCommand(rawValue: 29)
    /// The kernel's `BPF_LINK_GET_FD_BY_ID`.
    public static let linkGetFDByID = BPFCommand(rawValue: 30)
    /// The kernel's `BPF_LINK_GET_NEXT_ID`.
    public static let linkGetNextID = BPFCommand(rawValue: 31)
    /// The kernel's `BPF_ENABLE_STATS`.
    public static let enableStats = BPFCommand(rawValue: 32)
    /// The kernel's `BPF_ITER_CREATE`.
    public static let iterCreate = BPFCommand(rawValue: 33)
    /// The kernel's `BPF_LINK_DETACH`.
    public static let linkDetach = BPFCommand(rawValue: 34)
    /// The kernel's `BPF_PROG_BIND_MAP`.
    public static let progBindMap = BPFCommand(rawValue: 35)
    /// The kernel's `BPF_TOKEN_CREATE`.
    public static let tokenCreate = BPFCommand(rawValue: 36)
    /// The kernel's `BPF_PROG_STREAM_READ_BY_FD`.
    public static let progStreamReadByFD = BPFCommand(rawValue: 37)

    /// The kernel's name for the command, such as `"BPF_MAP_CREATE"`; `"bpf command N"` for a number
    /// this library does not know.
    public var name: String {
        switch rawValue {
        case 0: "BPF_MAP_CREATE"
        case 1: "BPF_MAP_LOOKUP_ELEM"
        case 2: "BPF_MAP_UPDATE_ELEM"
        case 3: "BPF_MAP_DELETE_ELEM"
        case 4: "BPF_MAP_GET_NEXT_KEY"
        case 5: "BPF_PROG_LOAD"
        case 6: "BPF_OBJ_PIN"
        case 7: "BPF_OBJ_GET"
        case 8: "BPF_PROG_ATTACH"
        case 9: "BPF_PROG_DETACH"
        case 10: "BPF_PROG_TEST_RUN"
        case 11: "BPF_PROG_GET_NEXT_ID"
        case 12: "BPF_MAP_GET_NEXT_ID"
        case 13: "BPF_PROG_GET_FD_BY_ID"
        case 14: "BPF_MAP_GET_FD_BY_ID"
        case 15: "BPF_OBJ_GET_INFO_BY_FD"
        case 16: "BPF_PROG_QUERY"
        case 17: "BPF_RAW_TRACEPOINT_OPEN"
        case 18: "BPF_BTF_LOAD"
        case 19: "BPF_BTF_GET_FD_BY_ID"
        case 20: "BPF_TASK_FD_QUERY"
        case 21: "BPF_MAP_LOOKUP_AND_DELETE_ELEM"
        case 22: "BPF_MAP_FREEZE"
        case 23: "BPF_BTF_GET_NEXT_ID"
        case 24: "BPF_MAP_LOOKUP_BATCH"
        case 25: "BPF_MAP_LOOKUP_AND_DELETE_BATCH"
        case 26: "BPF_MAP_UPDATE_BATCH"
        case 27: "BPF_MAP_DELETE_BATCH"
        case 28: "BPF_LINK_CREATE"
        case 29: "BPF_LINK_UPDATE"
        case 30: "BPF_LINK_GET_FD_BY_ID"
        case 31: "BPF_LINK_GET_NEXT_ID"
        case 32: "BPF_ENABLE_STATS"
        case 33: "BPF_ITER_CREATE"
        case 34: "BPF_LINK_DETACH"
        case 35: "BPF_PROG_BIND_MAP"
        case 36: "BPF_TOKEN_CREATE"
        case 37: "BPF_PROG_STREAM_READ_BY_FD"
        default: "bpf command \(rawValue)"
        }
    }

    public var description: String { name }
}
