// Attribute structs and commands for links and iterators. Layouts follow the kernel's
// `union bpf_attr` (Linux 6.18). `BPF_LINK_CREATE` has a union of per-attach-kind members after its
// first 16 bytes; each member gets a struct of its own with the full 64-byte length.

// MARK: - Attributes

/// The attributes of `BPF_LINK_CREATE` in one of its shapes. All share the first four fields.
public protocol LinkCreateAttributes: BitwiseCopyable, Sendable {}

/// `BPF_LINK_CREATE` with `target_btf_id` (and no other union member). `progFD` is a union with
/// `map_fd`, `targetFD` with `target_ifindex`.
public struct LinkCreateAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var targetBTFID: UInt32 = 0
    public var padding0: UInt32 = 0
    public var padding1: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for iterators (the anonymous `iter_info` member).
public struct LinkCreateIterAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var iterInfo: UInt64 = 0
    public var iterInfoLen: UInt32 = 0
    public var padding0: UInt32 = 0
    public var padding1: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for perf events (the `perf_event` member).
public struct LinkCreatePerfEventAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var bpfCookie: UInt64 = 0
    public var padding0: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for kprobe.multi (the `kprobe_multi` member; its `flags` and `cnt` are
/// ``kprobeMultiFlags`` and ``count``).
public struct LinkCreateKprobeMultiAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var kprobeMultiFlags: UInt32 = 0
    public var count: UInt32 = 0
    public var syms: UInt64 = 0
    public var addrs: UInt64 = 0
    public var cookies: UInt64 = 0
    public var padding0: (UInt64, UInt64) = (0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for fentry, fexit and other tracing programs (the `tracing` member).
public struct LinkCreateTracingAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var targetBTFID: UInt32 = 0
    public var padding0: UInt32 = 0
    public var cookie: UInt64 = 0
    public var padding1: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for netfilter (the `netfilter` member; its `flags` is ``netfilterFlags``).
public struct LinkCreateNetfilterAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var pf: UInt32 = 0
    public var hooknum: UInt32 = 0
    public var priority: Int32 = 0
    public var netfilterFlags: UInt32 = 0
    public var padding0: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}
}

/// `BPF_LINK_CREATE` for tcx (the `tcx` member); netkit and cgroup links share its shape.
/// `relativeFD` is a union with `relative_id`.
public struct LinkCreateTCXAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var relativeFD: UInt32 = 0
    public var padding0: UInt32 = 0
    public var expectedRevision: UInt64 = 0
    public var padding1: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    /// The union member `relative_id`, which shares storage with ``relativeFD``.
    public var relativeID: UInt32 {
        get { relativeFD }
        set { relativeFD = newValue }
    }
}

/// `BPF_LINK_CREATE` for netkit (the `netkit` member).
public typealias LinkCreateNetkitAttr = LinkCreateTCXAttr
/// `BPF_LINK_CREATE` for cgroup links with ordering (the `cgroup` member).
public typealias LinkCreateCgroupAttr = LinkCreateTCXAttr

/// `BPF_LINK_CREATE` for uprobe.multi (the `uprobe_multi` member; its `cnt` and `flags` are
/// ``count`` and ``uprobeMultiFlags``).
public struct LinkCreateUprobeMultiAttr: LinkCreateAttributes {
    public var progFD: UInt32 = 0
    public var targetFD: UInt32 = 0
    public var attachType: UInt32 = 0
    public var flags: UInt32 = 0
    public var path: UInt64 = 0
    public var offsets: UInt64 = 0
    public var refCtrOffsets: UInt64 = 0
    public var cookies: UInt64 = 0
    public var count: UInt32 = 0
    public var uprobeMultiFlags: UInt32 = 0
    public var pid: UInt32 = 0
    public var padding0: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_LINK_UPDATE`. `newProgFD` is a union with `new_map_fd`, `oldProgFD` with
/// `old_map_fd`.
public struct LinkUpdateAttr: BitwiseCopyable, Sendable {
    public var linkFD: UInt32 = 0
    public var newProgFD: UInt32 = 0
    public var flags: UInt32 = 0
    public var oldProgFD: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_LINK_DETACH`.
public struct LinkDetachAttr: BitwiseCopyable, Sendable {
    public var linkFD: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_ITER_CREATE`.
public struct IterCreateAttr: BitwiseCopyable, Sendable {
    public var linkFD: UInt32 = 0
    public var flags: UInt32 = 0

    public init() {}
}

/// Attributes of `BPF_RAW_TRACEPOINT_OPEN`.
public struct RawTracepointOpenAttr: BitwiseCopyable, Sendable {
    public var name: UInt64 = 0
    public var progFD: UInt32 = 0
    public var padding0: UInt32 = 0
    public var cookie: UInt64 = 0

    public init() {}
}

// MARK: - Commands

extension Sys {
    /// `BPF_LINK_CREATE`: attaches a program and returns the link's descriptor; closing the last
    /// descriptor of the link detaches it (unless pinned). Requires Linux 5.7.
    public static func linkCreate<Attributes: LinkCreateAttributes>(
        _ attributes: Attributes
    ) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.linkCreate, &attributes)
    }

    /// `BPF_LINK_UPDATE`: replaces a link's program.
    public static func linkUpdate(_ attributes: LinkUpdateAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.linkUpdate, &attributes)
    }

    /// `BPF_LINK_DETACH`: detaches a link while its descriptor stays open. Requires Linux 5.9.
    public static func linkDetach(_ attributes: LinkDetachAttr) throws(BPFSyscallError) {
        var attributes = attributes
        _ = try BPFSyscall.perform(.linkDetach, &attributes)
    }

    /// `BPF_ITER_CREATE`: opens a new iterator for an iterator link; reading it runs the program.
    public static func iterCreate(_ attributes: IterCreateAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.iterCreate, &attributes)
    }

    /// `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw tracepoint program; returns the link's descriptor.
    public static func rawTracepointOpen(_ attributes: RawTracepointOpenAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        return try BPFSyscall.performCreatingDescriptor(.rawTracepointOpen, &attributes)
    }
}
