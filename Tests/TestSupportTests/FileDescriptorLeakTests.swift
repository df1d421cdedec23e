import Glibc
import Synchronization
import Testing
import TestSupport

@Suite("File-descriptor leak check")
struct FileDescriptorLeakTests {
    @Test("a deliberate leak is found and named")
    func findsDeliberateLeak() async throws {
        let opened = LeakedDescriptorBox()
        let leaked = try await FileDescriptorLeaks.leaks {
            opened.set(open("/dev/null", O_RDONLY | O_CLOEXEC))
        }
        defer { close(opened.value) }
        // Tests running in parallel without the check may hold descriptors of their own for a
        // while, so look for ours rather than count.
        #expect(leaked.contains { $0.number == opened.value && $0.target == "/dev/null" })
    }

    @Test("the trait records an issue for a leaking test")
    func traitFailsLeakingTest() async throws {
        let leakedDescriptor = LeakedDescriptorBox()
        await withKnownIssue("the body leaks /dev/null on purpose") {
            try await FileDescriptorLeakCheck.check {
                leakedDescriptor.set(open("/dev/null", O_RDONLY | O_CLOEXEC))
            }
        }
        close(leakedDescriptor.value)
    }

    @Test("a test that closes what it opens passes", .checksFileDescriptorLeaks)
    func cleanTestPasses() throws {
        let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(descriptor > 0)
        close(descriptor)
    }
}

private final class LeakedDescriptorBox: Sendable {
    private let stored = Mutex<Int32>(-1)
    func set(_ value: Int32) { stored.withLock { $0 = value } }
    var value: Int32 { stored.withLock { $0 } }
}
