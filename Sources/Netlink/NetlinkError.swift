import EBPFSys

/// Why a netlink exchange failed.
///
/// ``kernel(operation:errno:message:attributeOffset:)`` carries the kernel's extended
/// acknowledgement: the text it attached to the error (`NLMSGERR_ATTR_MSG`, such as "Filter already
/// exists") and, where the kernel named one, the byte offset of the offending attribute in the
/// request.
public enum NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A socket call (`socket`, `bind`, `sendto`, `setsockopt`) failed.
    case socket(operation: String, errno: Errno)
    /// The request for `operation` went out but its reply could not be read: the kernel may
    /// have carried it out. Callers that create something undo what they can identify as theirs.
    case noReply(operation: String, errno: Errno)
    /// The kernel answered `operation` with an error.
    case kernel(operation: String, errno: Errno, message: String?, attributeOffset: UInt32?)
    /// Bytes that are not a well-formed netlink message: `what` was being read at byte `offset`.
    case malformed(what: String, offset: Int, detail: String)
    /// A value that cannot be encoded, such as an interface name longer than the kernel allows.
    case invalidArgument(String)
    /// The socket was closed.
    case closed

    /// The error number, for the kernel's and the socket's errors.
    public var errno: Errno? {
        switch self {
        case .socket(_, let errno), .noReply(_, let errno), .kernel(_, let errno, _, _): errno
        default: nil
        }
    }

    /// The kernel's extended acknowledgement text, when it sent one.
    public var kernelMessage: String? {
        if case .kernel(_, _, let message, _) = self { return message }
        return nil
    }

    public var description: String {
        switch self {
        case .socket(let operation, let errno):
            "netlink \(operation): \(errno)"
        case .noReply(let operation, let errno):
            "netlink receive reply to \(operation): \(errno) (the kernel may have carried the request out)"
        case .kernel(let operation, let errno, let message, let offset):
            "\(operation): \(errno)"
                + (message.map { " (kernel: \($0))" } ?? "")
                + (offset.map { " at attribute offset \($0)" } ?? "")
        case .malformed(let what, let offset, let detail):
            "malformed netlink \(what) at byte \(offset): \(detail)"
        case .invalidArgument(let text):
            "invalid netlink argument: \(text)"
        case .closed:
            "the netlink socket is closed"
        }
    }
}
