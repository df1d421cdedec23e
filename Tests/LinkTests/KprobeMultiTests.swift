import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// The two syscalls the multi-probe tests watch, with this architecture's wrapper prefix
/// (`__x64_sys_getppid`): the test thread calls them a known number of times.
enum WatchedSyscalls {
    static var prefix: String { Kprobe.syscallPrefix ?? "sys_" }
    static var getppid: String { prefix + "sys_getppid" }
    static var getpgid: String { prefix + "sys_getpgid" }

    /// Calls getppid `parent` times and getpgid `group` times on this thread.
    static func call(getppid parent: Int, getpgid group: Int) {
        for _ in 0..<parent { _ = Glibc.getppid() }
        for _ in 0..<group { _ = Glibc.getpgid(0) }
    }

    /// The address `/proc/kallsyms` gives `name` (root sees real addresses).
    static func address(of name: String) throws -> UInt64 {
        let text = String(decoding: readFile("/proc/kallsyms") ?? [], as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 3, fields[2] == name, let address = UInt64(fields[0], radix: 16), address != 0 {
                return address
            }
        }
        throw KernelBTF.Failure(description: "/proc/kallsyms has no address for \(name)")
    }
}

@Suite(
    "kprobe.multi (VM tier: 6.12)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobeMulti),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeMultiTests {
    /// One program on two syscalls, adding each one's cookie: 3 × 1 + 2 × 100.
    @Test func bySymbolsWithCookies() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let counter = try Counter(
            type: .kprobe, expectedAttachType: .traceKprobeMulti, onlyThread: currentThreadID(), addingCookie: true)
        let link = try KprobeMulti.attach(
            symbols: [WatchedSyscalls.getppid, WatchedSyscalls.getpgid], program: counter.program, cookies: [1, 100])
        WatchedSyscalls.call(getppid: 3, getpgid: 2)
        #expect(try counter.count() == 203)
        try link.close()
        WatchedSyscalls.call(getppid: 1, getpgid: 1)
        #expect(try counter.count() == 203, "a closed link no longer runs")
    }

    @Test func byAddressesWithCookies() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let counter = try Counter(
            type: .kprobe, expectedAttachType: .traceKprobeMulti, onlyThread: currentThreadID(), addingCookie: true)
        let addresses = [
            try WatchedSyscalls.address(of: WatchedSyscalls.getppid), try WatchedSyscalls.address(of: WatchedSyscalls.getpgid),
        ]
        let link = try KprobeMulti.attach(addresses: addresses, program: counter.program, cookies: [10, 1000])
        WatchedSyscalls.call(getppid: 2, getpgid: 3)
        #expect(try counter.count() == 3020)
        try link.close()
    }

    /// `getp?id` matches getppid and getpgid but not getpid.
    @Test func byPattern() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let pattern = WatchedSyscalls.prefix + "sys_getp?id"
        let matched = try KprobeMulti.matchingFunctions(pattern)
        #expect(matched == [WatchedSyscalls.getpgid, WatchedSyscalls.getppid], "matched \(matched)")
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceKprobeMulti, onlyThread: currentThreadID())
        let link = try KprobeMulti.attach(pattern: pattern, program: counter.program)
        WatchedSyscalls.call(getppid: 4, getpgid: 3)
        _ = getpid()
        let count = try counter.count()
        #expect(count == 7, "counted \(count)")
        try link.close()
        #expect {
            try KprobeMulti.attach(pattern: "no_such_function_swiftebpf_*", program: counter.program)
        } throws: { error in
            if case LinkError.kernelSymbolNotFound("no_such_function_swiftebpf_*", _) = error { return true }
            return false
        }
    }

    @Test func returnProbesCountReturns() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceKprobeMulti, onlyThread: currentThreadID())
        let link = try KprobeMulti.attach(symbols: [WatchedSyscalls.getppid], program: counter.program, mode: .return)
        WatchedSyscalls.call(getppid: 5, getpgid: 2)
        #expect(try counter.count() == 5)
        try link.close()
    }

    @Test func anUnknownSymbolIsNamed() throws {
        guard KernelFeature.kprobeMulti.check() else { return }
        let program = try trivialProgram(type: .kprobe, expectedAttachType: .traceKprobeMulti)
        #expect {
            try KprobeMulti.attach(symbols: ["no_such_kernel_function_swiftebpf"], program: program)
        } throws: { error in
            if case LinkError.kernelSymbolNotFound = error { return true }
            return false
        }
    }
}

@Suite(
    "kprobe.session (VM tier: 6.12)", .serialized, .checksFileDescriptorLeaks, .requires(.kprobeSession),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct KprobeSessionTests {
    /// A session program counting entries in slot 0 and returns in slot 1, for `thread` only. At
    /// entry it returns 1 (skip the return run) where the cookie is 2, else 0.
    static func sessionProgram(map: borrowing FileDescriptor, thread: Int32) throws -> Program {
        let isReturn = try KernelBTF.functionID(named: "bpf_session_is_return")
        var builder = ProgramBuilder()
        builder.append(contentsOf: [
            .mov64(.r6, .r1),
            .callHelper(14),  // bpf_get_current_pid_tgid
            .mov32(.r0, .r0),
            .jumpIf(.r0, .notEqual, thread, label: "skip"),
            .call(.kernelFunction(btfID: Int32(bitPattern: isReturn), moduleIndex: 0)),
            .mov64(.r8, .r0),
            .mov64(.r7, 0),
            .jumpIf(.r8, .equal, 0, label: "count"),
            .mov64(.r7, 1),
        ])
        builder.label("count")
        builder.append(contentsOf: [
            .store(.r7, to: .r10, offset: -4, size: .word),
            .mov64(.r2, .r10),
            .add64(.r2, -4),
            .loadMapPointer(.r1, fileDescriptor: map.rawValue),
            .callHelper(1),  // bpf_map_lookup_elem
            .jumpIf(.r0, .equal, 0, label: "skip"),
            .mov64(.r1, 1),
            .atomic(.add, .r1, on: .r0, size: .doubleWord),
            .jumpIf(.r8, .notEqual, 0, label: "skip"),
            .mov64(.r1, .r6),
            .callHelper(174),  // bpf_get_attach_cookie
            .mov64(.r1, .r0),
            .mov64(.r0, 1),
            .jumpIf(.r1, .equal, 2, label: "out"),
        ])
        builder.label("skip")
        builder.append(.mov64(.r0, 0))
        builder.label("out")
        builder.append(.exit())
        let bytes = try builder.build().encoded(byteOrder: .host)
        return try Program(
            adopting: Sys.loadProgram(
                type: ProgramType.kprobe.rawValue, instructions: bytes, license: "GPL",
                expectedAttachType: AttachType.traceKprobeSession.rawValue
            ).takeDescriptor())
    }

    static func slot(_ index: UInt32, of map: borrowing FileDescriptor) throws -> UInt64 {
        let key = withUnsafeBytes(of: index) { Array($0) }
        let bytes = try Sys.lookupElement(map: map, key: key, valueSize: 8)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The entry run decides: getppid (cookie 1) returns 0 at entry, so its return runs too;
    /// getpgid (cookie 2) returns 1, so its return run is skipped.
    @Test func theEntryDecidesWhetherTheReturnRuns() throws {
        guard KernelFeature.kprobeSession.check() else { return }
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 2)
        let program = try Self.sessionProgram(map: map, thread: currentThreadID())
        let link = try KprobeMulti.attach(
            symbols: [WatchedSyscalls.getppid, WatchedSyscalls.getpgid], program: program, mode: .session,
            cookies: [1, 2])
        WatchedSyscalls.call(getppid: 3, getpgid: 4)
        #expect(try Self.slot(0, of: map) == 7, "every call enters")
        #expect(try Self.slot(1, of: map) == 3, "only getppid's calls return into the program")
        try link.close()
        WatchedSyscalls.call(getppid: 1, getpgid: 1)
        #expect(try Self.slot(0, of: map) == 7)
    }
}
