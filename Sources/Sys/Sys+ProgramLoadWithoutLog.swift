extension Sys {
    /// `BPF_PROG_LOAD` exactly once and without a log: for callers that turned the verifier log
    /// off and for probes that only need the errno. ``progLoad(_:logLevel:logSize:)`` instead
    /// repeats a failed load with a log.
    ///
    /// The log fields of `attributes` are cleared.
    public static func progLoadWithoutLog(_ attributes: ProgLoadAttr) throws(BPFSyscallError) -> FileDescriptor {
        var attributes = attributes
        attributes.logLevel = 0
        attributes.logSize = 0
        attributes.logBuf = 0
        return try BPFSyscall.performCreatingDescriptor(.progLoad, &attributes)
    }
}
