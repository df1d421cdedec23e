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
        switch BPFSyscallError.Hint.forFailure(of: .mapCreate, errno: .notPermitted, logRequested: false) {
        case .missingCapability, .missingCapabilityOrMemlockLimit:
            break
        default:
            Issue.record("EPERM on map creation must name the capability")
        }
        #expect(BPFSyscallError.Hint.missingCapabilityOrMemlockLimit(currentLimit: 8_388_608).description.contains("8388608 bytes"))
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
