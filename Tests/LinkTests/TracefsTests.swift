import EBPFSys
import Glibc
import Synchronization
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

    /// A bind mount of a tracefs directory (root `/events`) is listed with fstype tracefs but has
    /// no `kprobe_events`; it used to pass as tracefs.
    @Test func bindMountedSubdirectoryIsNotTracefs() {
        let text = """
            37 24 0:12 /events /mnt/events rw,relatime - tracefs tracefs rw
            38 24 0:12 /instances/x /sys/kernel/tracing rw,relatime - tracefs tracefs rw
            39 24 0:12 / /mnt/tracing rw,relatime - tracefs tracefs rw
            """
        #expect(Tracefs.tracefsMountPoints(inMountinfo: text) == ["/mnt/tracing"])
        #expect(Tracefs.preferredMountPoint(inMountinfo: text) == "/mnt/tracing")
        #expect(Tracefs.preferredMountPoint(inMountinfo: "37 24 0:12 /events /sys/kernel/tracing rw - tracefs tracefs rw") == nil)
    }

    /// The locator reads mountinfo once while the same file system stays mounted at the path it
    /// found, reads it again when the device there changes, and never remembers "not mounted".
    @Test func locatorRemembersOnlyAFoundMountPoint() throws {
        struct Environment {
            var mountinfo: String?
            var reads = 0
            var devices: [String: UInt64] = [:]
        }
        let environment = Mutex(Environment())
        let locator = TracefsLocator(
            readMountinfo: { environment.withLock { $0.reads += 1; return $0.mountinfo } },
            deviceOf: { path in environment.withLock { $0.devices[path] } })

        // Not mounted: an error each time, and each time mountinfo is read again.
        #expect(throws: TracefsError.self) { try locator.find() }
        environment.withLock { $0.mountinfo = "" }
        #expect(throws: TracefsError.self) { try locator.find() }
        #expect(environment.withLock { $0.reads } == 2)

        // Mounted: found once, then answered from memory while the device there is the same.
        environment.withLock {
            $0.mountinfo = "39 24 0:12 / /mnt/tracing rw,relatime - tracefs tracefs rw"
            $0.devices = ["/mnt/tracing": 12]
        }
        #expect(try locator.find() == "/mnt/tracing")
        #expect(try locator.find() == "/mnt/tracing")
        #expect(environment.withLock { $0.reads } == 3)

        // Unmounted (the directory now shows its parent's device) and mounted elsewhere.
        environment.withLock {
            $0.mountinfo = "40 24 0:12 / /sys/kernel/tracing rw,relatime - tracefs tracefs rw"
            $0.devices = ["/mnt/tracing": 1, "/sys/kernel/tracing": 12]
        }
        #expect(try locator.find() == "/sys/kernel/tracing")
        #expect(try locator.find() == "/sys/kernel/tracing")
        #expect(environment.withLock { $0.reads } == 4)

        // Gone altogether: "not mounted" again, never the stale path.
        environment.withLock { $0 = Environment(mountinfo: "", reads: $0.reads, devices: ["/sys/kernel/tracing": 1]) }
        #expect(throws: TracefsError.self) { try locator.find() }
        #expect(throws: TracefsError.self) { try locator.find() }
        #expect(environment.withLock { $0.reads } == 6)
    }

    @Test("find and findOrMount agree on the mounted tracefs", .enabled(if: Privileges.canAdminister, "needs CAP_SYS_ADMIN to mount tracefs"))
    func findAgreesWithFindOrMount() throws {
        let path = try Tracefs.findOrMount().path
        #expect(try Tracefs.find() == path)
        #expect(try Tracefs.find() == path)
        #expect(Tracefs.device(of: path) != Tracefs.device(of: "/proc"))
        #expect(Tracefs.device(of: "/nonexistent") == nil)
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
