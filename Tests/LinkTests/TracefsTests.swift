import EBPFSys
import Glibc
import Testing
import TestSupport

@testable import EBPFLink

@Suite("tracefs discovery", .checksFileDescriptorLeaks)
struct TracefsTests {
    @Test func mountinfoParsing() {
        let text = """
            22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
            35 24 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:17 - tracefs tracefs rw
            36 24 0:13 / /mnt/my\\040trace rw,relatime - tracefs nodev rw
            40 24 0:14 / /sys/fs/bpf rw,relatime shared:20 - bpf bpf rw,mode=700
            bad line
            """
        #expect(Tracefs.tracefsMountPoints(inMountinfo: text) == ["/sys/kernel/tracing", "/mnt/my trace"])
    }

    @Test func notMountedErrorSaysHowToMount() {
        let error = TracefsError.notMounted(searched: ["/sys/kernel/tracing"])
        #expect(error.description.contains("mount -t tracefs nodev /sys/kernel/tracing"))
    }

    @Test("finds tracefs once it is mounted", .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to mount tracefs"))
    func findsMountedTracefs() throws {
        if !Tracefs.isMounted(at: "/sys/kernel/tracing") {
            let status = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
            try #require(status == 0, "mount tracefs: errno \(errno)")
        }
        let path = try Tracefs.find()
        #expect(Tracefs.isMounted(at: path))
        #expect(access(path + "/uprobe_events", F_OK) == 0)
    }

    /// Unmounting to see it mount again would pull tracefs from under concurrent tests; the mount
    /// itself runs in the execsnoop example's test on a machine that starts without tracefs.
    @Test("findOrMount gives the mounted tracefs", .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to mount tracefs"))
    func findOrMountGivesTheMountedTracefs() throws {
        let first = try Tracefs.findOrMount()
        #expect(Tracefs.isMounted(at: first.path))
        let second = try Tracefs.findOrMount()
        #expect(second.path == first.path)
        #expect(!second.mountedNow)
    }

    @Test func mountFailedErrorSaysWhatToDo() {
        let error = TracefsError.mountFailed(path: "/sys/kernel/tracing", errno: .notPermitted)
        #expect(error.description.contains("run as root"))
        #expect(error.description.contains("mount -t tracefs nodev /sys/kernel/tracing"))
    }

    @Test func aRegularDirectoryIsNotTracefs() {
        #expect(!Tracefs.isMounted(at: "/tmp"))
        #expect(!Tracefs.isMounted(at: "/nonexistent"))
    }
}
