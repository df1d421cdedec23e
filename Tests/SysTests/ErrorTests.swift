import Testing

@testable import EBPFSys

@Suite("Errors, commands and names")
struct ErrorTests {
    @Test func commandNames() {
        #expect(BPFCommand.mapCreate.name == "BPF_MAP_CREATE")
        #expect(BPFCommand.progLoad.rawValue == 5)
        #expect(BPFCommand.progRun == BPFCommand.progTestRun)
        #expect(BPFCommand.tokenCreate.name == "BPF_TOKEN_CREATE")
        #expect(BPFCommand.linkDetach.rawValue == 34)
        #expect(BPFCommand(rawValue: 999).name == "bpf command 999")
    }

    @Test func errnoDescriptions() {
        #expect(Errno.notPermitted.description == "Operation not permitted (EPERM)")
        #expect(Errno.noSuchFileOrDirectory.name == "ENOENT")
        #expect(Errno.kernelNotSupported.description.contains("ENOTSUPP"))
        #expect(Errno(rawValue: 4000).description.contains("4000"))
    }

    @Test func errorDescriptionIsOneLineAndEndsWithTheReason() {
        let log = "0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0\n"
        let error = BPFSyscallError(command: .progLoad, errno: .permissionDenied, hint: .programRejected, log: log)
        #expect(!error.description.contains("\n"))
        #expect(error.description.hasPrefix("BPF_PROG_LOAD: Permission denied (EACCES)"))
        #expect(error.description.hasSuffix("R0 !read_ok"))
    }

    @Test func hints() {
        #expect(BPFSyscallError.Hint.forFailure(of: .mapCreate, errno: .argumentListTooLong, logRequested: false) == .mapTooLarge)
        #expect(BPFSyscallError.Hint.forFailure(of: .mapUpdateElem, errno: .argumentListTooLong, logRequested: false) == .mapFull)
        #expect(BPFSyscallError.Hint.forFailure(of: .progLoad, errno: .invalidArgument, logRequested: true) == .programRejected)
        #expect(BPFSyscallError.Hint.forFailure(of: .progLoad, errno: .noSpace, logRequested: true) == .logBufferTooSmall)
        #expect(BPFSyscallError.Hint.forFailure(of: .objPin, errno: .notPermitted, logRequested: false) == .pinPathNotOnBPFFS)
        #expect(BPFSyscallError.Hint.forFailure(of: .mapLookupElem, errno: .noSuchFileOrDirectory, logRequested: false) == nil)
        switch BPFSyscallError.Hint.forFailure(of: .mapCreate, errno: .notPermitted, logRequested: false, objectType: 33) {
        case .notPermitted(let evidence):
            #expect(evidence.object == "create a map of type 33")
        default:
            Issue.record("EPERM on map creation must state the evidence")
        }
    }

    /// The EPERM hint states what it found, over injected capability masks, lockdown modes and
    /// memory accounting.
    @Test func permissionEvidence() {
        // This host's shape: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN without
        // CAP_SYS_RESOURCE, integrity lockdown, memory cgroup accounting.
        let hostLike = UInt64(1) << 39 | 1 << 38 | 1 << 12 | 1 << 21
        let host = PermissionEvidence(
            object: "load a program of type 26", effectiveCapabilities: hostLike, lockdown: "integrity",
            memoryAccounting: .memoryCgroup, memlockLimit: 8_388_608)
        #expect(host.heldCapabilities == ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
        #expect(host.missingCapabilities == ["CAP_SYS_RESOURCE"])
        #expect(host.description.contains("not permitted to load a program of type 26"))
        #expect(host.description.contains("kernel lockdown: integrity"))
        #expect(host.description.contains("memlock limit does not apply"))
        #expect(!host.description.contains("RLIMIT_MEMLOCK"))

        // An unprivileged process on a kernel charging RLIMIT_MEMLOCK.
        let old = PermissionEvidence(
            object: "create a map of type 2", effectiveCapabilities: 0, lockdown: "none", memoryAccounting: .memlockLimit,
            memlockLimit: 65536)
        #expect(old.heldCapabilities.isEmpty)
        #expect(old.missingCapabilities == ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"])
        #expect(old.description.contains("capabilities held: none"))
        #expect(old.description.contains("RLIMIT_MEMLOCK (soft limit 65536 bytes)"))

        // Nothing readable.
        let unknown = PermissionEvidence(
            object: "load BTF", effectiveCapabilities: nil, lockdown: nil, memoryAccounting: nil, memlockLimit: nil)
        #expect(unknown.description.contains("capabilities unknown"))
        #expect(unknown.description.contains("kernel lockdown: unknown"))
        #expect(unknown.description.contains("could not be probed"))

        #expect(PermissionEvidence.effectiveCapabilities(status: "Name:\tx\nCapEff:\t000001ffffffffff\n") == 0x1ff_ffff_ffff)
        #expect(PermissionEvidence.effectiveCapabilities(status: "Name:\tx\n") == nil)
        #expect(PermissionEvidence.lockdownMode("none [integrity] confidentiality\n") == "integrity")
        #expect(PermissionEvidence.lockdownMode("[none] integrity confidentiality") == "none")
        #expect(PermissionEvidence.lockdownMode("garbage") == nil)
    }

    @Test func objectNames() throws {
        let name = try BPFObjectName("ok_name.1")
        #expect(name.string == "ok_name.1")
        #expect(try BPFObjectName("abcdefghijklmno").string == "abcdefghijklmno")
        #expect(BPFObjectName().isEmpty)
        #expect(throws: BPFObjectNameError.tooLong(name: "abcdefghijklmnop", length: 16)) {
            try BPFObjectName("abcdefghijklmnop")
        }
        #expect(throws: BPFObjectNameError.invalidCharacter(name: "bad-name", offset: 3)) {
            try BPFObjectName("bad-name")
        }
        #expect(throws: BPFObjectNameError.invalidCharacter(name: "é", offset: 0)) {
            try BPFObjectName("é")
        }
        #expect(try BPFObjectName("same") == BPFObjectName("same"))
    }
}
