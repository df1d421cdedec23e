import EBPFBTF
import Glibc
import Testing
import TestSupport

/// Tools and scratch files shared by the printing tests: one temporary directory per test run,
/// bpftool's header of the host's vmlinux made once.
enum PrintingSupport {
    static let bpftool = "/usr/sbin/bpftool"
    static let clang = "/opt/swift/usr/bin/clang"
    static let swiftc = "/opt/swift/usr/bin/swiftc"
    static let objdump = "/opt/swift/usr/bin/llvm-objdump"
    static let vmlinuxPath = "/sys/kernel/btf/vmlinux"

    static var hasBpftool: Bool { access(bpftool, X_OK) == 0 }
    static var hasVmlinux: Bool { access(vmlinuxPath, R_OK) == 0 }
    static var hasClang: Bool { access(clang, X_OK) == 0 }
    static var hasSwiftc: Bool { access(swiftc, X_OK) == 0 }

    static let bpftoolSkipReason: Comment =
        "needs bpftool (Debian package `bpftool`) at /usr/sbin/bpftool and kernel BTF at /sys/kernel/btf/vmlinux"

    /// A directory that lives for the test run: removed with its contents when the process exits.
    static let scratch: String = {
        var template = Array("/tmp/swift-ebpf-btfprint-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let directory else { return "/tmp" }
        atexit { removeTree(PrintingSupport.scratch) }
        return directory
    }()

    static func path(_ name: String) -> String { scratch + "/" + name }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw PrintingTestError(what: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw PrintingTestError(what: path, operation: "write", errno: errno) }
            offset += written
        }
    }

    static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

    /// bpftool's `format c` output for `file`, cached per run.
    static func bpftoolHeader(of file: String) throws -> [UInt8] {
        let result = try runSubprocess(bpftool, ["btf", "dump", "file", file, "format", "c"])
        guard result.status == 0 else {
            throw PrintingTestError(what: bpftool, operation: "btf dump (status \(result.status))", errno: 0)
        }
        return result.standardOutput
    }

    static let vmlinuxSpec: Result<BTFSpec, BTFError> = Result { () throws(BTFError) in try BTFSpec(path: vmlinuxPath) }

    /// Our header of vmlinux and bpftool's, written to the scratch directory once.
    static let vmlinuxHeaders: Result<(ours: String, bpftool: String), any Error> = Result {
        let spec = try vmlinuxSpec.get()
        let ours = try spec.cHeaderBytes()
        let theirs = try bpftoolHeader(of: vmlinuxPath)
        try mkdirChecked(path("ours"))
        try mkdirChecked(path("bpftool"))
        try write(ours, to: path("ours/vmlinux.h"))
        try write(theirs, to: path("bpftool/vmlinux.h"))
        return (path("ours"), path("bpftool"))
    }

    static func mkdirChecked(_ path: String) throws {
        if mkdir(path, 0o755) != 0, errno != EEXIST {
            throw PrintingTestError(what: path, operation: "mkdir", errno: errno)
        }
    }

    /// `ours` without the enum size attributes when bpftool's libbpf is older than 1.2 and does
    /// not write them (Debian's bpftool 7.1 does not): their only effect is the correct size of
    /// one- and eight-byte enums.
    static func matchingEnumAttributes(_ ours: [UInt8], to theirs: [UInt8]) -> [UInt8] {
        let theirsText = String(decoding: theirs, as: UTF8.self)
        let marker = "__attribute__((mode("
        let theirsHaveAttributes = theirsText.contains(marker)
        if theirsHaveAttributes { return ours }
        var text = String(decoding: ours, as: UTF8.self)
        for attribute in [" __attribute__((mode(byte)))", " __attribute__((mode(word)))"] {
            text = text.split(separator: attribute, omittingEmptySubsequences: false).joined()
        }
        return Array(text.utf8)
    }

    /// The first line where two texts differ, for a readable failure.
    static func firstDifference(_ left: [UInt8], _ right: [UInt8]) -> String? {
        if left == right { return nil }
        let leftLines = String(decoding: left, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let rightLines = String(decoding: right, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(leftLines.count, rightLines.count) {
            let l = index < leftLines.count ? String(leftLines[index]) : "<end>"
            let r = index < rightLines.count ? String(rightLines[index]) : "<end>"
            if l != r { return "line \(index + 1): ours \(l.debugDescription), bpftool \(r.debugDescription)" }
        }
        return "texts differ"
    }
}

/// A step of a printing test's plumbing that failed.
struct PrintingTestError: Error, CustomStringConvertible {
    var what: String
    var operation: String
    var errno: Int32
    var description: String { "\(operation) \(what) failed (errno \(errno))" }
}
