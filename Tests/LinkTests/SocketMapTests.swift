import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A connected TCP pair on 127.0.0.1: `client` writes, `server` (the accepted end) reads.
struct LoopbackTCP: ~Copyable {
    let client: Int32
    let server: Int32

    init() throws {
        let stream = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let listener = socket(AF_INET, stream, 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        let clientSocket = socket(AF_INET, stream, 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(clientSocket, $0, length) == 0 }
        }
        let serverSocket = accept(listener, nil, nil)
        guard listener >= 0, bound, connected, serverSocket >= 0 else {
            let failure = errno
            close(clientSocket)
            if serverSocket >= 0 { close(serverSocket) }
            throw LinkError.system(operation: "loopback TCP setup", errno: Errno(rawValue: failure))
        }
        _ = fcntl(serverSocket, F_SETFD, FD_CLOEXEC)
        client = clientSocket
        server = serverSocket
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(client, bytes, bytes.count, 0)
    }

    /// What arrived at the server within a short wait.
    func received() -> [UInt8] {
        var poller = pollfd(fd: server, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 200) == 1 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(server, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    deinit {
        close(client)
        close(server)
    }
}

@Suite(
    "socket map programs (sk_skb, sk_msg)", .serialized, .checksFileDescriptorLeaks,
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN (CAP_NET_ADMIN) for socket map programs"))
struct SocketMapTests {
    static func socketMap(_ type: MapType = .sockmap) throws -> Map {
        try Map(spec: MapSpec(name: "sockets", type: type, keySize: 4, valueSize: 4, maxEntries: 2))
    }

    @Test func streamVerdictAndMessageVerdictRun() throws {
        let map = try Self.socketMap()
        let verdict = try Counter(type: .skSKB, returning: 1)  // SK_PASS
        let messages = try Counter(type: .skMsg, returning: 1)  // SK_PASS
        let verdictAttachment = try SocketMap.attach(program: verdict.program, map: map, attachType: .skSKBStreamVerdict)
        let messageAttachment = try SocketMap.attach(program: messages.program, map: map, attachType: .skMsgVerdict)
        let attached = try ProgramQuery.query(map: map, attachType: .skSKBStreamVerdict)
        #expect(attached.programs.map(\.programID) == [try verdict.program.info().id])

        let tcp = try LoopbackTCP()
        try map.update(UInt32(0), UInt32(bitPattern: tcp.server))
        try map.update(UInt32(1), UInt32(bitPattern: tcp.client))
        tcp.send("hello")
        #expect(tcp.received() == Array("hello".utf8))
        #expect(try verdict.count() >= 1)
        #expect(try messages.count() == 1)
        try verdictAttachment.close()
        try messageAttachment.close()
        #expect(try ProgramQuery.query(map: map, attachType: .skSKBStreamVerdict).programs.isEmpty)
    }

    @Test func droppingVerdictDropsData() throws {
        let map = try Self.socketMap(.sockhash)
        let dropper = try Counter(type: .skSKB, returning: 0)  // SK_DROP
        let attachment = try SocketMap.attach(program: dropper.program, map: map, attachType: .skSKBStreamVerdict)
        let tcp = try LoopbackTCP()
        try map.update(UInt32(7), UInt32(bitPattern: tcp.server))
        tcp.send("dropped")
        #expect(tcp.received().isEmpty, "SK_DROP discards what the server would read")
        #expect(try dropper.count() >= 1)
        try attachment.close()
    }

    @Test(.requires(.socketMapLinks)) func linkAttachesAndDetaches() throws {
        guard KernelFeature.socketMapLinks.check() else { return }
        let map = try Self.socketMap()
        let verdict = try Counter(type: .skSKB, returning: 1)
        let link = try SocketMap.link(program: verdict.program, map: map, attachType: .skSKBVerdict)
        let tcp = try LoopbackTCP()
        try map.update(UInt32(0), UInt32(bitPattern: tcp.server))
        tcp.send("linked")
        #expect(tcp.received() == Array("linked".utf8))
        #expect(try verdict.count() >= 1)
        let info = try link.info()
        #expect(info.type == 14)  // BPF_LINK_TYPE_SOCKMAP
        #expect(info.extra(as: SockmapLinkInfo.self).mapID == (try map.info().id))
        try link.close()
    }

    @Test func typedErrors() throws {
        let array = try Map(spec: MapSpec(name: "array", type: .array, keySize: 4, valueSize: 4, maxEntries: 1))
        let verdict = try Counter(type: .skSKB, returning: 1)
        #expect {
            try SocketMap.attach(program: verdict.program, map: array, attachType: .skSKBStreamVerdict)
        } throws: { error in
            guard case .invalidOption(let text) = error as? LinkError else { return false }
            return text.contains("array")
        }
        let map = try Self.socketMap()
        #expect {
            try SocketMap.attach(program: verdict.program, map: map, attachType: .skMsgVerdict)
        } throws: { error in
            guard case .wrongProgramType(_, [.skMsg], .skSKB) = error as? LinkError else { return false }
            return true
        }
    }
}
