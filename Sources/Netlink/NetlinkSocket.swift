import EBPFSys
import Glibc
import Synchronization

/// A `NETLINK_ROUTE` socket: requests with sequence numbers, acknowledgements with the kernel's
/// extended-ack text, and dumps.
///
/// The socket belongs to the network namespace of the thread that opened it, and keeps talking to
/// that namespace whichever thread uses it later: an object that must undo what it did (a tc
/// filter, an XDP program) keeps its socket.
///
/// ```swift
/// let netlink = try NetlinkSocket()
/// let devices = try netlink.devices()
/// ```
public final class NetlinkSocket: Sendable {
    /// `SOL_NETLINK`, `NETLINK_CAP_ACK` and `NETLINK_EXT_ACK`.
    private static let netlinkLevel: Int32 = 270
    private static let capAcknowledgement: Int32 = 10
    private static let extendedAcknowledgement: Int32 = 11
    /// How long a reply may take before the exchange gives up with `EAGAIN`.
    private static let replyTimeoutSeconds = 30

    private struct State: ~Copyable {
        var descriptor: FileDescriptor?
        var sequence: UInt32
    }

    private let state: Mutex<State>

    /// Opens a `NETLINK_ROUTE` socket in the calling thread's network namespace, asking for
    /// extended acknowledgements (Linux 4.12; older kernels send plain errors) without the echoed
    /// request.
    public init() throws(NetlinkError) {
        let descriptor = try Self.openRouteSocket()
        state = Mutex(State(descriptor: descriptor, sequence: UInt32(truncatingIfNeeded: time(nil))))
    }

    private static func openRouteSocket() throws(NetlinkError) -> FileDescriptor {
        let raw: Int32
        switch SystemCalls.socket(family: AF_NETLINK, type: Int32(SOCK_RAW.rawValue), protocol: 0) {  // NETLINK_ROUTE
        case .success(let descriptor): raw = descriptor
        case .failure(let error): throw .socket(operation: "socket(AF_NETLINK)", errno: error)
        }
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor(adopting: raw) } catch { throw .socket(operation: "socket(AF_NETLINK)", errno: error) }
        try configure(descriptor.rawValue)
        return descriptor
    }

    private static func configure(_ raw: Int32) throws(NetlinkError) {
        for option in [extendedAcknowledgement, capAcknowledgement] {
            if case .failure(let error) = SystemCalls.setSocketOption(raw, level: netlinkLevel, option: option, value: Int32(1)),
                error != .protocolNotAvailable
            {
                // ENOPROTOOPT: a kernel before 4.12 (NETLINK_EXT_ACK) or 4.3 (NETLINK_CAP_ACK),
                // which sends plain errors and full echoes; anything else is a real failure.
                throw .socket(operation: "setsockopt(\(option == extendedAcknowledgement ? "NETLINK_EXT_ACK" : "NETLINK_CAP_ACK"))", errno: error)
            }
        }
        // Without the timeout a kernel that never answers would block the exchange for good.
        let timeout = timeval(tv_sec: replyTimeoutSeconds, tv_usec: 0)
        if case .failure(let error) = SystemCalls.setSocketOption(raw, level: SOL_SOCKET, option: SO_RCVTIMEO, value: timeout) {
            throw .socket(operation: "setsockopt(SO_RCVTIMEO)", errno: error)
        }
        var address = KernelAddress()
        let bound = withUnsafePointer(to: &address) {
            SystemCalls.bind(raw, address: UnsafeRawPointer($0), length: MemoryLayout<KernelAddress>.size)
        }
        if case .failure(let error) = bound { throw .socket(operation: "bind", errno: error) }
    }

    /// Whether ``close()`` ran.
    public var isClosed: Bool { state.withLock { $0.descriptor == nil } }

    /// Closes the socket. Calling it again does nothing.
    public func close() {
        state.withLock { state in
            guard var descriptor = state.descriptor.take() else { return }
            _ = try? descriptor.close()
        }
    }

    /// Sends `type` with `flags` and `payload`, asking for an acknowledgement, and returns what
    /// the kernel sent before it (such as the object an `NLM_F_ECHO` request created).
    /// - Throws: ``NetlinkError/kernel(operation:errno:message:attributeOffset:)`` when the kernel
    ///   refuses; `operation` names the request in the error.
    @discardableResult
    public func request(
        type: UInt16, flags: NetlinkMessageFlags = [], payload: [UInt8], operation: String
    ) throws(NetlinkError) -> [NetlinkMessage] {
        try exchange(
            NetlinkMessage(type: type, flags: flags.union([.request, .acknowledge]), payload: payload),
            operation: operation, isDump: false)
    }

    /// Sends a dump request (`NLM_F_DUMP`) and returns every message of the multipart reply.
    public func dump(type: UInt16, payload: [UInt8], operation: String) throws(NetlinkError) -> [NetlinkMessage] {
        try exchange(
            NetlinkMessage(type: type, flags: [.request, .dump], payload: payload), operation: operation, isDump: true)
    }

    private func exchange(_ message: NetlinkMessage, operation: String, isDump: Bool) throws(NetlinkError)
        -> [NetlinkMessage]
    {
        let outcome = state.withLock { (state: inout State) -> Result<[NetlinkMessage], NetlinkError> in
            guard let raw = state.descriptor?.rawValue else { return .failure(.closed) }
            state.sequence &+= 1
            var request = message
            request.sequence = state.sequence
            do throws(NetlinkError) {
                try Self.send(try request.encoded(), on: raw, operation: operation)
                return .success(try Self.collectReplies(on: raw, sequence: request.sequence, operation: operation, isDump: isDump))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    private static func send(_ bytes: [UInt8], on raw: Int32, operation: String) throws(NetlinkError) {
        var address = KernelAddress()
        let sent = bytes.withUnsafeBytes { payload in
            withUnsafePointer(to: &address) {
                SystemCalls.send(raw, bytes: payload, to: UnsafeRawPointer($0), addressLength: MemoryLayout<KernelAddress>.size)
            }
        }
        switch sent {
        case .success(let count) where count == bytes.count: return
        case .success: throw .socket(operation: "send \(operation)", errno: .messageTooLong)
        case .failure(let error): throw .socket(operation: "send \(operation)", errno: error)
        }
    }

    private static func collectReplies(on raw: Int32, sequence: UInt32, operation: String, isDump: Bool)
        throws(NetlinkError) -> [NetlinkMessage]
    {
        var replies: [NetlinkMessage] = []
        while true {
            let datagram = try receive(on: raw, operation: operation)
            for message in try NetlinkMessage.decode(datagram) where message.sequence == sequence {
                switch message.type {
                case NetlinkMessage.Kind.error, NetlinkMessage.Kind.done:
                    let acknowledgement = try NetlinkAcknowledgement(message)
                    if acknowledgement.errorNumber != 0 {
                        throw .kernel(
                            operation: operation, errno: Errno(rawValue: acknowledgement.errorNumber),
                            message: acknowledgement.message, attributeOffset: acknowledgement.attributeOffset)
                    }
                    if message.type == NetlinkMessage.Kind.done || !isDump { return replies }
                case NetlinkMessage.Kind.noop:
                    continue
                case NetlinkMessage.Kind.overrun:
                    throw .socket(operation: "receive \(operation)", errno: .noSpace)
                default:
                    replies.append(message)
                }
            }
        }
    }

    /// One datagram, sized by peeking first so no reply is cut. The request went out before
    /// this is called, so a failure is ``NetlinkError/noReply(operation:errno:)``: the kernel
    /// may have carried the request out.
    private static func receive(on raw: Int32, operation: String) throws(NetlinkError) -> [UInt8] {
        let peeked = SystemCalls.receive(raw, into: UnsafeMutableRawBufferPointer(start: nil, count: 0), flags: peekFlags)
        let size: Int
        switch peeked {
        case .success(let length): size = length
        case .failure(let error): throw .noReply(operation: operation, errno: error)
        }
        var buffer = [UInt8](repeating: 0, count: max(size, NetlinkMessage.headerSize))
        switch buffer.withUnsafeMutableBytes({ SystemCalls.receive(raw, into: $0, flags: 0) }) {
        case .success(let received): return Array(buffer.prefix(received))
        case .failure(let error): throw .noReply(operation: operation, errno: error)
        }
    }

    /// `MSG_PEEK | MSG_TRUNC`: the length of the next datagram, which stays queued.
    private static let peekFlags = Int32(MSG_PEEK) | Int32(MSG_TRUNC)
}

/// `struct sockaddr_nl` for the kernel (port 0, no groups).
private struct KernelAddress {
    var family = sa_family_t(AF_NETLINK)
    var padding: UInt16 = 0
    var portID: UInt32 = 0
    var groups: UInt32 = 0
}

/// What an `NLMSG_ERROR` (or `NLMSG_DONE`) message says: the error number (0 for an
/// acknowledgement) and the extended-ack attributes.
public struct NetlinkAcknowledgement: Sendable, Equatable {
    /// `NLMSGERR_ATTR_MSG` and `NLMSGERR_ATTR_OFFS`.
    static let messageAttribute: UInt16 = 1
    static let offsetAttribute: UInt16 = 2

    /// The positive error number, 0 for success.
    public var errorNumber: Int32
    /// The kernel's text (`NLMSGERR_ATTR_MSG`).
    public var message: String?
    /// The offset of the rejected attribute in the request (`NLMSGERR_ATTR_OFFS`).
    public var attributeOffset: UInt32?

    /// Reads an `NLMSG_ERROR` message: a negative errno, the echoed request header (and its
    /// payload unless `NLM_F_CAPPED`), then, with `NLM_F_ACK_TLVS`, attributes. An `NLMSG_DONE`
    /// carries the errno and attributes without the echo.
    public init(_ reply: NetlinkMessage) throws(NetlinkError) {
        let payload = reply.payload
        guard payload.count >= 4 else {
            if reply.type == NetlinkMessage.Kind.done {
                self.errorNumber = 0  // Some families end a dump with an empty NLMSG_DONE.
                return
            }
            throw .malformed(what: "error message", offset: NetlinkMessage.headerSize, detail: "no error code")
        }
        let raw = Int32(bitPattern: HostBytes(payload).uint32(at: 0))
        errorNumber = raw == Int32.min ? Int32.max : -raw
        var attributesStart = 4
        if reply.type == NetlinkMessage.Kind.error {
            guard payload.count >= 4 + NetlinkMessage.headerSize else {
                throw .malformed(
                    what: "error message", offset: NetlinkMessage.headerSize + 4,
                    detail: "\(payload.count - 4) bytes of echoed request header, needs \(NetlinkMessage.headerSize)")
            }
            var echoed = NetlinkMessage.headerSize
            if !reply.flags.contains(.capped) {
                let length = Int(HostBytes(payload).uint32(at: 4))
                guard length >= NetlinkMessage.headerSize, length <= payload.count - 4 else {
                    throw .malformed(
                        what: "error message", offset: NetlinkMessage.headerSize + 4,
                        detail: "echoed request of \(length) bytes in \(payload.count - 4)")
                }
                echoed = length
            }
            attributesStart = min(4 + NetlinkAlignment.aligned(echoed), payload.count)
        }
        guard reply.flags.contains(.acknowledgementAttributes) else { return }
        let attributes = try NetlinkAttribute.decodeAll(
            payload[attributesStart...], baseOffset: NetlinkMessage.headerSize + attributesStart)
        message = try attributes.first(ofType: Self.messageAttribute)?.string()
        attributeOffset = try attributes.first(ofType: Self.offsetAttribute)?.uint32()
    }
}
