import Glibc
import Testing
import TestSupport

@testable import EBPFSys

@Suite("FileDescriptor", .checksFileDescriptorLeaks)
struct FileDescriptorTests {
    @Test func closesOnDeinit() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        do {
            let owner = try FileDescriptor(adopting: writeEnd)
            let raw = owner.rawValue
            #expect(raw == writeEnd)
            #expect(!pipeIsAtEndOfFile(readEnd))
        }
        #expect(pipeIsAtEndOfFile(readEnd))
    }

    @Test func explicitCloseIsIdempotent() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        var owner = try FileDescriptor(adopting: writeEnd)
        var closed = owner.isClosed
        #expect(!closed)
        try owner.close()
        closed = owner.isClosed
        #expect(closed)
        let rawAfterClose = owner.rawValue
        #expect(rawAfterClose == -1)
        #expect(pipeIsAtEndOfFile(readEnd))
        try owner.close()
        closed = owner.isClosed
        #expect(closed)
    }

    @Test func duplicateIsIndependentAndCloseOnExec() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        var original = try FileDescriptor(adopting: writeEnd)
        var copy = try original.duplicate()
        let copyRaw = copy.rawValue
        let originalRaw = original.rawValue
        #expect(copyRaw != originalRaw)
        #expect(copyRaw > 0)
        #expect(fcntl(copyRaw, F_GETFD) & FD_CLOEXEC != 0)

        try original.close()
        #expect(!pipeIsAtEndOfFile(readEnd), "the duplicate still holds the write end")
        var byte: UInt8 = 7
        #expect(write(copyRaw, &byte, 1) == 1)
        var received: UInt8 = 0
        #expect(read(readEnd, &received, 1) == 1)
        #expect(received == 7)
        try copy.close()
        #expect(pipeIsAtEndOfFile(readEnd))
    }

    @Test func duplicateOfClosedDescriptorFails() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        var owner = try FileDescriptor(adopting: writeEnd)
        try owner.close()
        do {
            _ = try owner.duplicate()
            Issue.record("duplicating a closed descriptor must fail")
        } catch {
            #expect(error == .badFileDescriptor)
        }
    }

    @Test func relinquishHandsOwnershipOut() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        let owner = try FileDescriptor(adopting: writeEnd)
        let raw = owner.relinquish()
        #expect(raw == writeEnd)
        #expect(!pipeIsAtEndOfFile(readEnd), "relinquish must not close")
        #expect(close(raw) == 0)
        #expect(pipeIsAtEndOfFile(readEnd))
    }

    @Test func negativeDescriptorIsRejected() {
        #expect(throws: Errno.badFileDescriptor) { _ = try FileDescriptor(adopting: -1) }
    }

    /// The path a descriptor at 0 takes, exercised with a raised floor so the process's stdin is
    /// left alone.
    @Test func descriptorBelowFloorIsMovedAndOriginalClosed() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { _ = close(readEnd) }
        let floor = writeEnd + 100
        let moved = try FileDescriptor.movedAbove(writeEnd, lowestAllowed: floor)
        #expect(moved >= floor)
        #expect(fcntl(moved, F_GETFD) & FD_CLOEXEC != 0)
        #expect(!pipeIsAtEndOfFile(readEnd))
        #expect(close(moved) == 0)
        #expect(pipeIsAtEndOfFile(readEnd), "the original number must have been closed")
    }

    @Test func descriptorAboveFloorIsKept() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer {
            _ = close(readEnd)
            _ = close(writeEnd)
        }
        #expect(try FileDescriptor.movedAbove(writeEnd, lowestAllowed: 1) == writeEnd)
    }
}
