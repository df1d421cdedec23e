import Glibc
import Synchronization
import Testing
import TestSupport

@testable import EBPFCollection
@testable import EBPFSys

/// `BPF_F_TOKEN_FD`, in `map_flags`, `prog_flags` and `btf_flags` alike.
private let tokenFlag: UInt32 = 1 << 16

/// What the interceptor saw: per command, the token descriptor and whether the flag was set.
private final class TokenRecorder: Sendable {
    struct Call: Sendable {
        var command: BPFCommand
        var token: Int32
        var flagged: Bool
        var name: String
    }

    let calls = Mutex<[Call]>([])
    let token = Mutex<Int32>(-1)

    func record(_ call: Call) { calls.withLock { $0.append(call) } }
}

/// Reads the attributes as `Attributes`, lets `inspect` look at them and clear what the kernel
/// must not see, and writes them back.
private func rewrite<Attributes: BitwiseCopyable>(
    _ attributes: UnsafeMutableRawBufferPointer, as type: Attributes.Type, _ inspect: (inout Attributes) -> Void
) -> Bool {
    guard attributes.count >= MemoryLayout<Attributes>.size, let base = attributes.baseAddress else { return false }
    var value = base.loadUnaligned(as: Attributes.self)
    inspect(&value)
    withUnsafeBytes(of: value) { bytes in
        for index in bytes.indices { attributes[index] = bytes[index] }
    }
    return true
}

extension LoaderSuites {
    @Suite("BPF tokens", .checksFileDescriptorLeaks)
    struct TokenTests {
        /// The host runs tests in the initial user namespace, where the kernel creates no tokens
        /// (and a real token needs a BPF file system mounted for another user namespace), so this
        /// checks what the loader puts in each command: a stand-in token from the interceptor goes
        /// into `BPF_BTF_LOAD`, `BPF_MAP_CREATE` and `BPF_PROG_LOAD` with `BPF_F_TOKEN_FD`, and
        /// the calls then go to the kernel without it, so the load completes for real.
        /// Stands a descriptor of /dev/null in for the kernel's token (the host's initial user
        /// namespace creates none), records which creating commands carry it, and lets each command
        /// through to the kernel without it, so the load completes for real.
        fileprivate static func standInToken(_ recorder: TokenRecorder) -> BPFSyscallInterceptor {
            BPFSyscallInterceptor { command, attributes in
                switch command {
                case .tokenCreate:
                    let standIn = open("/dev/null", O_RDONLY | O_CLOEXEC)
                    guard standIn >= 0 else { return .failure(Errno(rawValue: errno)) }
                    recorder.token.withLock { $0 = standIn }
                    return .success(Int(standIn))
                case .mapCreate:
                    guard rewrite(attributes, as: MapCreateAttr.self, { map in
                        recorder.record(.init(command: command, token: map.mapTokenFD, flagged: map.mapFlags & tokenFlag != 0, name: map.mapName.string))
                        map.mapTokenFD = 0
                        map.mapFlags &= ~tokenFlag
                    }) else { return .failure(.invalidArgument) }
                case .progLoad:
                    guard rewrite(attributes, as: ProgLoadAttr.self, { program in
                        recorder.record(.init(command: command, token: program.progTokenFD, flagged: program.progFlags & tokenFlag != 0, name: program.progName.string))
                        program.progTokenFD = 0
                        program.progFlags &= ~tokenFlag
                    }) else { return .failure(.invalidArgument) }
                case .btfLoad:
                    guard rewrite(attributes, as: BTFLoadAttr.self, { btf in
                        recorder.record(.init(command: command, token: btf.btfTokenFD, flagged: btf.btfFlags & tokenFlag != 0, name: ""))
                        btf.btfTokenFD = 0
                        btf.btfFlags &= ~tokenFlag
                    }) else { return .failure(.invalidArgument) }
                default:
                    break
                }
                return BPFSyscall.kernelCall(command, attributes)
            }
        }

        @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
        func theTokenGoesIntoEveryCreatingCommand() throws {
            let recorder = TokenRecorder()
            let spec = try testdataSpec("globals")
            var options = CollectionOptions()
            options.tokenFileSystemPath = "/sys/fs/bpf"
            let interceptor = Self.standInToken(recorder)
            let collection = try BPFSyscall.withInterceptor(interceptor) {
                try LoadedCollection(spec: spec, options: options)
            }
            defer { collection.close() }
            #expect(try collection.program("count_packets").testRun(data: packet).returnValue == 0)

            let token = recorder.token.withLock { $0 }
            #expect(token > 0)
            let calls = recorder.calls.withLock { $0 }
            let maps = calls.filter { $0.command == .mapCreate && spec.maps[$0.name] != nil }
            #expect(Set(maps.map(\.name)) == Set(spec.maps.keys))
            #expect(maps.allSatisfy { $0.token == token && $0.flagged })
            let programs = calls.filter { $0.command == .progLoad && $0.name == "count_packets" }
            #expect(!programs.isEmpty && programs.allSatisfy { $0.token == token && $0.flagged })
            // Feature probes load BTF of their own, without a token; the object's BTF has it.
            #expect(calls.contains { $0.command == .btfLoad && $0.token == token && $0.flagged })
        }

        @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
        func aFileSystemWithoutDelegationIsRefusedWithTheReason() throws {
            var options = CollectionOptions()
            options.tokenFileSystemPath = "/sys/fs/bpf"
            let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("minimal"), options: options) }
            #expect(error?.step == .token)
            guard case .tokenUnavailable(let path, let syscall, let why)? = error?.reason else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(path == "/sys/fs/bpf" && syscall.command == .tokenCreate)
            // In the initial user namespace 6.9+ refuses with EOPNOTSUPP before it looks at the
            // delegation options; older kernels do not know the command.
            #expect([Errno.notSupported, .invalidArgument].contains(syscall.errno))
            if syscall.errno == .notSupported {
                #expect(why.contains("user namespace"))
            }
            #expect(error?.description.contains(why) == true)
        }

        /// The token path with each system call failing in turn: the token (and everything the
        /// load made) is closed whatever fails, and the error is typed.
        @Test(.enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
        func everyCallFailingInTurnLeavesNothingOpen() async throws {
            let spec = try testdataSpec("globals")
            var options = CollectionOptions()
            options.tokenFileSystemPath = "/sys/fs/bpf"
            let recorder = TokenRecorder()
            let summary = try await FaultInjection.sweep {
                try BPFSyscall.withInterceptor(Self.standInToken(recorder)) {
                    try LoadedCollection(spec: spec, options: options)
                }
            } release: { collection in
                collection.close()
            } check: { outcome in
                LoadFaultInjectionTests.check(outcome)
                // A token the options ask for is not optional: without it the load fails there.
                if case .bpf(.tokenCreate) = outcome.fault.call, outcome.fault.errno != .interrupted {
                    guard case .failure(let error) = outcome.result else {
                        Issue.record("\(outcome.fault): the load went on without its token")
                        return
                    }
                    #expect((error as? CollectionError)?.step == .token, "\(outcome.fault)")
                }
            }
            #expect(summary.calls.contains(.bpf(.tokenCreate)), "\(summary)")
        }

        @Test func aPathThatIsNoDirectoryIsRefusedBeforeTheKernel() throws {
            var options = CollectionOptions()
            options.tokenFileSystemPath = "/nonexistent/bpffs"
            let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: try testdataSpec("minimal"), options: options) }
            guard case .tokenUnavailable(_, let syscall, let why)? = error?.reason else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(syscall.errno == .noSuchFileOrDirectory && why.contains("cannot be opened"))
        }

        @Test func everyRefusalIsExplained() {
            for errno in [Errno.notSupported, .noSuchFileOrDirectory, .notPermitted, .invalidArgument] {
                #expect(CollectionLoader.tokenRefusal(errno) != CollectionLoader.tokenRefusal(.badFileDescriptor))
            }
            #expect(CollectionLoader.tokenRefusal(.noSuchFileOrDirectory).contains("delegate_cmds"))
        }
    }
}
