import EBPFCollection
import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// uprobe.multi links on the test target (`counted` runs N times per run, `main` once): by
/// symbols, file offsets and addresses, with cookies and a PID filter, counted exactly.
@Suite(
    "uprobe.multi (root)", .serialized, .checksFileDescriptorLeaks, .requires(.uprobeMulti),
    .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN"))
struct UprobeMultiTests {
    static func cookieCounter() throws -> Counter {
        try Counter(type: .kprobe, expectedAttachType: .traceUprobeMulti, addingCookie: true)
    }

    @Test func bySymbolsWithCookies() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Self.cookieCounter()
        let link = try UprobeMulti.attach(
            executable: target, symbols: ["counted", "main"], program: counter.program, cookies: [1, 1000])
        _ = try UprobeTarget.run(calls: 5, of: UprobeTarget.uprobeMultiCopy)
        _ = try UprobeTarget.run(calls: 2, of: UprobeTarget.uprobeMultiCopy)
        #expect(try counter.count() == 2007)
        try link.close()
        _ = try UprobeTarget.run(calls: 5, of: UprobeTarget.uprobeMultiCopy)
        #expect(try counter.count() == 2007, "a closed link no longer runs")
    }

    @Test func byOffsetsWithCookies() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Self.cookieCounter()
        let offsets = [try target.offset(of: "counted"), try target.offset(of: "main")]
        let link = try UprobeMulti.attach(executable: target, offsets: offsets, program: counter.program, cookies: [3, 100])
        _ = try UprobeTarget.run(calls: 4, of: UprobeTarget.uprobeMultiCopy)
        #expect(try counter.count() == 112)
        try link.close()
    }

    @Test func byAddressesWithCookies() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Self.cookieCounter()
        let addresses = [try target.address(of: "counted"), try target.address(of: "main")]
        let link = try UprobeMulti.attach(
            executable: target, addresses: addresses, program: counter.program, cookies: [7, 10_000])
        _ = try UprobeTarget.run(calls: 3, of: UprobeTarget.uprobeMultiCopy)
        #expect(try counter.count() == 10_021)
        try link.close()
        #expect {
            try UprobeMulti.attach(executable: target, addresses: [UInt64.max - 1], program: counter.program)
        } throws: { error in
            if case LinkError.symbolNotInLoadableSegment(_, _, UInt64.max - 1) = error { return true }
            return false
        }
    }

    /// Another process running the same binary is not counted.
    @Test func aPIDFilterCountsOnlyThatProcess() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Self.cookieCounter()
        let waiting = try UprobeTarget.Waiting(calls: 6, of: UprobeTarget.uprobeMultiCopy)
        let link = try UprobeMulti.attach(
            executable: target, symbols: ["counted"], program: counter.program, pid: waiting.pid, cookies: [1])
        _ = try UprobeTarget.run(calls: 9, of: UprobeTarget.uprobeMultiCopy)
        _ = try waiting.go()
        #expect(try counter.count() == 6)
        try link.close()
    }

    @Test func returnProbesCountReturns() throws {
        guard KernelFeature.uprobeMulti.check() else { return }
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Counter(type: .kprobe, expectedAttachType: .traceUprobeMulti)
        let link = try UprobeMulti.attach(
            executable: target, symbols: ["counted"], program: counter.program, isReturnProbe: true)
        _ = try UprobeTarget.run(calls: 8, of: UprobeTarget.uprobeMultiCopy)
        #expect(try counter.count() == 8)
        try link.close()
    }

    @Test func badArgumentsAreRefusedBeforeTheKernel() throws {
        let target = try Executable(path: try UprobeTarget.uprobeMultiCopy.get())
        let counter = try Self.cookieCounter()
        #expect(throws: LinkError.self) { try UprobeMulti.attach(executable: target, offsets: [], program: counter.program) }
        #expect(throws: LinkError.self) {
            try UprobeMulti.attach(executable: target, offsets: [1], program: counter.program, cookies: [1, 2])
        }
        #expect(throws: LinkError.self) {
            try UprobeMulti.attach(executable: target, symbols: ["counted"], program: counter.program, pid: -3)
        }
    }
}
