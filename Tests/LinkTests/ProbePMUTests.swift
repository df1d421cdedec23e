import Glibc
import Testing
import TestSupport

@testable import EBPFLink

/// A PMU whose `format/retprobe` is missing or unreadable: a return probe used to open as an
/// entry probe (while `isReturnProbe` said otherwise). The PMU is read from a scratch directory,
/// and the error comes before any perf_event_open, so no privilege is needed.
@Suite("probe PMU format")
struct ProbePMUTests {
    /// A scratch PMU directory with a `type` file and a `format/` directory; `retprobe` is made
    /// a directory when `unreadableRetprobe`, so reading it fails even as root.
    final class ScratchPMU {
        let directory: String
        let unreadableRetprobe: Bool

        init(unreadableRetprobe: Bool) throws {
            var template = Array("/tmp/swift-ebpf-issue16-pmu-XXXXXX".utf8CString)
            let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
            directory = try #require(created.map { String(cString: $0) }, "mkdtemp: errno \(errno)")
            self.unreadableRetprobe = unreadableRetprobe
            let file = try #require(fopen(directory + "/type", "w"), "create \(directory)/type")
            fputs("6\n", file)
            fclose(file)
            #expect(mkdir(directory + "/format", 0o755) == 0)
            if unreadableRetprobe { #expect(mkdir(directory + "/format/retprobe", 0o755) == 0) }
        }

        deinit {
            if unreadableRetprobe { rmdir(directory + "/format/retprobe") }
            rmdir(directory + "/format")
            unlink(directory + "/type")
            rmdir(directory)
        }
    }

    static func expectRefusal(_ error: LinkError, in directory: String) {
        guard case .notSupported(_, _, let detail) = error else {
            Issue.record("expected notSupported, got \(error)")
            return
        }
        #expect(detail.contains("\(directory)/format/retprobe"))
    }

    @Test(arguments: [false, true])
    func returnProbeWithoutRetprobeFormatFails(unreadableRetprobe: Bool) throws {
        let scratch = try ScratchPMU(unreadableRetprobe: unreadableRetprobe)
        let pmu = try #require(ProbePMU.read(directory: scratch.directory))
        #expect(pmu.type == 6 && pmu.retprobeBit == nil)
        #expect(try pmu.config(isReturnProbe: false, hook: "kprobe x") == 0)
        do {
            _ = try Kprobe.openEvent(
                symbol: "issue16_no_such_function", isReturnProbe: true, options: ProbeOptions(), pmu: pmu)
            Issue.record("a kretprobe opened without format/retprobe")
        } catch {
            Self.expectRefusal(error, in: scratch.directory)
        }
        do {
            _ = try Uprobe.openPMUEvent(
                pmu: pmu, path: "/bin/true", offset: 0, isReturnProbe: true, referenceCounterOffset: 0, pid: -1,
                hook: "uretprobe /bin/true:0x0")
            Issue.record("a uretprobe opened without format/retprobe")
        } catch {
            Self.expectRefusal(error, in: scratch.directory)
        }
    }

    @Test func retprobeFormatGivesTheConfigBit() throws {
        let pmu = ProbePMU(type: 6, retprobeBit: 0, referenceCounterShift: 32, directory: "/nowhere")
        #expect(try pmu.config(isReturnProbe: true, hook: "kretprobe x") == 1)
        #expect(try pmu.config(isReturnProbe: false, hook: "kprobe x") == 0)
    }
}
