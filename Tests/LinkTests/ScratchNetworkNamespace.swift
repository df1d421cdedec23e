import EBPFLink
import EBPFSys
import Glibc

/// A new network namespace with its loopback interface up, entered only by the calling thread
/// and only inside ``run(_:)``, so tests can attach network programs without touching the host's
/// traffic. Sockets created inside `run` stay in the namespace after it returns.
final class ScratchNetworkNamespace {
    /// `CLONE_NEWNET`.
    private static let newNetworkNamespace: Int32 = 0x4000_0000
    let descriptor: Int32
    private let original: Int32

    private typealias NamespaceCall = @convention(c) (Int32, Int32) -> Int32
    private typealias UnshareCall = @convention(c) (Int32) -> Int32
    /// libc's `setns` and `unshare`: Glibc's module map leaves them out (they need `_GNU_SOURCE`).
    private static let libcSetns: NamespaceCall? = libcFunction("setns")
    private static let libcUnshare: UnshareCall? = libcFunction("unshare")

    private static func libcFunction<Function>(_ name: String) -> Function? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }

    private func setns(_ fd: Int32, _ type: Int32) -> Int32 { Self.libcSetns?(fd, type) ?? -1 }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw Failure(description: "open own network namespace: errno \(errno)") }
        guard let unshare = Self.libcUnshare, unshare(Self.newNetworkNamespace) == 0 else {
            let failure = errno
            close(original)
            throw Failure(description: "unshare(CLONE_NEWNET): errno \(failure)")
        }
        descriptor = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let loopbackUp = Self.setLoopbackUp()
        let returned = setns(original, Self.newNetworkNamespace)
        guard descriptor >= 0, loopbackUp, returned == 0 else {
            throw Failure(description: "set up network namespace (lo up: \(loopbackUp), setns back: \(returned))")
        }
    }

    /// Runs `body` with the calling thread in the namespace.
    func run<Result>(_ body: () throws -> Result) throws -> Result {
        guard setns(descriptor, Self.newNetworkNamespace) == 0 else {
            throw Failure(description: "setns into the scratch namespace: errno \(errno)")
        }
        defer { _ = setns(original, Self.newNetworkNamespace) }
        return try body()
    }

    /// The path of the namespace for APIs that open it themselves.
    var path: String { "/proc/self/fd/\(descriptor)" }

    private static func setLoopbackUp() -> Bool {
        let control = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard control >= 0 else { return false }
        defer { close(control) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (index, byte) in "lo".utf8.enumerated() { name[index] = byte }
        }
        guard ioctl(control, UInt(SIOCGIFFLAGS), &request) == 0 else { return false }
        request.ifr_ifru.ifru_flags |= Int16(IFF_UP)
        return ioctl(control, UInt(SIOCSIFFLAGS), &request) == 0
    }

    deinit {
        close(descriptor)
        close(original)
    }
}
