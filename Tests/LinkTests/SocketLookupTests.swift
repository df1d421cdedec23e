import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A TCP socket on 127.0.0.1 that closes itself.
private final class LoopbackTCPSocket {
    let descriptor: Int32

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw LinkError.system(operation: "TCP socket", errno: Errno(rawValue: errno)) }
    }

    private init(adopting descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Binds to 127.0.0.1:`port` (0: a free port of the kernel's choice) and listens.
    static func listening(port: UInt16 = 0) throws -> LoopbackTCPSocket {
        let listener = try LoopbackTCPSocket()
        let status = withLoopbackAddress(port: port) { bind(listener.descriptor, $0, $1) }
        guard status == 0, listen(listener.descriptor, 8) == 0 else {
            throw LinkError.system(operation: "listen on 127.0.0.1:\(port)", errno: Errno(rawValue: errno))
        }
        return listener
    }

    /// A port on 127.0.0.1 where nothing listens: one the kernel hands out, released again.
    static func unusedPort() throws -> UInt16 {
        let probe = try LoopbackTCPSocket()
        let status = withLoopbackAddress(port: 0) { bind(probe.descriptor, $0, $1) }
        guard status == 0, let port = probe.localPort else {
            throw LinkError.system(operation: "bind to a free port", errno: Errno(rawValue: errno))
        }
        return port
    }

    /// Connects to 127.0.0.1:`port`; 0, or the errno of the failure.
    func connect(port: UInt16) -> Int32 {
        Self.withLoopbackAddress(port: port) { Glibc.connect(descriptor, $0, $1) } == 0 ? 0 : errno
    }

    /// The next connection waiting on this listener, nil when none arrives within a second.
    func accept() -> LoopbackTCPSocket? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 1000) == 1 else { return nil }
        let accepted = Glibc.accept(descriptor, nil, nil)
        guard accepted >= 0 else { return nil }
        _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
        return LoopbackTCPSocket(adopting: accepted)
    }

    /// The port of the socket's own address.
    var localPort: UInt16? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return status == 0 ? UInt16(bigEndian: address.sin_port) : nil
    }

    private static func withLoopbackAddress(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    deinit {
        close(descriptor)
    }
}

@Suite(
    "sk_lookup steering to a socket map", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for network namespaces and socket maps"))
struct SocketLookupTests {
    /// testdata/sk_lookup.c's `steer_to_listener` gives TCP connections to `steered_port` to the
    /// socket at key 0 of its SOCKMAP `listeners`. It runs in a scratch network namespace, so the
    /// host's ports and traffic are untouched and nothing stays behind.
    @Test func steersConnectionsForAnUnusedPortToAListener() throws {
        let namespace = try ScratchNetworkNamespace()
        try namespace.run {
            let listener = try LoopbackTCPSocket.listening()
            let listeningPort = try #require(listener.localPort)
            let steeredPort = try LoopbackTCPSocket.unusedPort()
            #expect(steeredPort != listeningPort)
            var spec = try hostOrderSpec("sk_lookup")
            try spec.setVariable("steered_port", to: UInt32(steeredPort))
            let collection = try LoadedCollection(spec: spec)
            defer { collection.close() }
            try collection.map("listeners").update(UInt32(0), UInt64(listener.descriptor))
            let steered = try collection.variable("steered")
            #expect(try LoopbackTCPSocket().connect(port: steeredPort) == ECONNREFUSED, "nothing listens there")

            let link = try NetNS.attach(program: try collection.program("steer_to_listener"), namespaceDescriptor: namespace.descriptor)
            let client = try LoopbackTCPSocket()
            #expect(client.connect(port: steeredPort) == 0, "the program hands the connection to the listener")
            let accepted = try #require(listener.accept(), "the steered connection waits on the listener")
            #expect(accepted.localPort == steeredPort, "the accepted socket keeps the address the client dialled")
            #expect(try steered.get(as: UInt64.self) == 1)
            // Connections to other ports take the kernel's own lookup.
            let direct = try LoopbackTCPSocket()
            #expect(direct.connect(port: listeningPort) == 0)
            #expect(listener.accept()?.localPort == listeningPort)
            #expect(try steered.get(as: UInt64.self) == 1)
            #expect(try link.info().extra(as: NetNsLinkInfo.self).attachType == AttachType.skLookup.rawValue)

            try link.close()
            #expect(try LoopbackTCPSocket().connect(port: steeredPort) == ECONNREFUSED, "refused again once the link is closed")
            #expect(try steered.get(as: UInt64.self) == 1)
        }
    }
}
