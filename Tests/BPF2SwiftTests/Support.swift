import EBPF
import Glibc
import Testing
import TestSupport

@testable import BPF2SwiftGenerator

/// Paths and tools the bpf2swift tests share.
enum BPF2SwiftTestSupport {
    /// The repository's root, from this file's path.
    static let repository: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Support.swift, BPF2SwiftTests, Tests
        return components.joined(separator: "/")
    }()

    /// This target's BPF sources (the folder the plugin reads).
    static let bpfDirectory = repository + "/Tests/BPF2SwiftTests/bpf"

    /// The directory of the running test binary, where SwiftPM also puts the executables it built
    /// (bpf2swift, execcount).
    static let buildDirectory: String = {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.baseAddress.map { readlink("/proc/self/exe", UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self), 4095) } ?? -1
        }
        guard count > 0 else { return repository + "/.build/debug" }
        var path = String(decoding: buffer[0..<count], as: UTF8.self)
        // The test binary sits in `<build>/swift-ebpfPackageTests.xctest` (a file on Linux).
        while let slash = path.lastIndex(of: "/") {
            path = String(path[..<slash])
            if access(path + "/bpf2swift", X_OK) == 0 { return path }
            if path.isEmpty { break }
        }
        return repository + "/.build/debug"
    }()

    static func executable(_ name: String) -> String { buildDirectory + "/" + name }

    /// A fresh temporary directory, removed by `cleanUp`.
    static func temporaryDirectory() throws -> String {
        try Files.makeTemporaryDirectory()
    }

    static func cleanUp(_ directory: String) { removeRecursively(directory) }

    static func removeRecursively(_ path: String) {
        guard let handle = opendir(path) else {
            unlink(path)
            return
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(handle)
        for name in names { removeRecursively(path + "/" + name) }
        rmdir(path)
    }

    static func write(_ text: String, to path: String) throws {
        try Files.write(Array(text.utf8), to: path)
    }

    /// Runs bpf2swift in this process; returns its exit status and what it reported.
    static func bpf2swift(_ arguments: [String]) -> (status: Int32, messages: [String]) {
        var messages: [String] = []
        let status = BPF2Swift.run(arguments: arguments) { messages.append($0) }
        return (status, messages)
    }

    /// Runs a shell command line, returning its exit status and its standard output and error.
    static func shell(_ command: String) throws -> SubprocessResult {
        try runSubprocess("/bin/sh", ["-c", command + " 2>&1"])
    }

    static func tool(_ name: String) throws -> String {
        try #require(Toolchain.tool(name), "the Swift toolchain has no \(name)")
    }
}
