// gen-sys-types: writes EBPFSys's attribute structs, info structs, command functions and the kernel
// enums of EBPFSys and EBPFCollection from kernel BTF.
//
//     swift run gen-sys-types [--btf PATH] [--kernel VERSION] [--package-root DIR] [--check]
//
// Scripts/gen-sys-types runs it on the committed BTF of the reference kernel, which is what the
// committed files come from.

import EBPFBTF
import Glibc
import SysTypesGenerator

struct Options {
    var btfPath = "/sys/kernel/btf/vmlinux"
    var kernel: String?
    var packageRoot = "."
    var check = false
}

func fail(_ message: String) -> Never {
    let line = Array("gen-sys-types: \(message)\n".utf8)
    _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(2)
}

func parseOptions(_ arguments: [String]) -> Options {
    var options = Options()
    var index = 0
    func value(after flag: String) -> String {
        index += 1
        guard index < arguments.count else { fail("\(flag) needs a value") }
        return arguments[index]
    }
    while index < arguments.count {
        switch arguments[index] {
        case "--btf": options.btfPath = value(after: "--btf")
        case "--kernel": options.kernel = value(after: "--kernel")
        case "--package-root": options.packageRoot = value(after: "--package-root")
        case "--check": options.check = true
        case "-h", "--help":
            print("usage: gen-sys-types [--btf PATH] [--kernel VERSION] [--package-root DIR] [--check]")
            exit(0)
        case let other: fail("unknown argument \(other)")
        }
        index += 1
    }
    return options
}

/// `6.18` from `vmlinux-6.18.btf`; for another file the running kernel's major.minor.
func kernelVersion(forBTFAt path: String) -> String {
    let file = path.split(separator: "/").last.map(String.init) ?? path
    if file.hasPrefix("vmlinux-"), file.hasSuffix(".btf") {
        return String(file.dropFirst("vmlinux-".count).dropLast(".btf".count))
    }
    var name = utsname()
    guard uname(&name) == 0 else { return "unknown" }
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return release.split(separator: ".").prefix(2).joined(separator: ".")
}

func readAll(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        result.append(contentsOf: chunk[0..<count])
        if count < chunk.count { return ferror(file) == 0 ? result : nil }
    }
}

func write(_ contents: String, to path: String) {
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    if !directory.isEmpty { mkdir(directory, 0o755) }
    guard let file = fopen(path, "wb") else { fail("cannot write \(path): errno \(errno)") }
    let bytes = Array(contents.utf8)
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    guard fclose(file) == 0, written == bytes.count else { fail("cannot write \(path)") }
}

let options = parseOptions(Array(CommandLine.arguments.dropFirst()))
var command = "swift run gen-sys-types"
if options.btfPath != "/sys/kernel/btf/vmlinux" { command += " --btf \(options.btfPath)" }
let spec: BTFSpec
do {
    spec = try BTFSpec(path: options.btfPath)
} catch {
    fail("\(options.btfPath): \(error)")
}
let generator = SysTypesGenerator(
    spec: spec, kernel: options.kernel ?? kernelVersion(forBTFAt: options.btfPath), command: command)
let files: [GeneratedFile]
do {
    files = try generator.generate()
} catch {
    fail("\(error)")
}
var differing: [String] = []
for file in files {
    let path = options.packageRoot + "/" + file.path
    let current = readAll(path)
    if current == Array(file.contents.utf8) { continue }
    differing.append(file.path)
    if !options.check { write(file.contents, to: path) }
}
if options.check {
    for path in differing { print("differs: \(path)") }
    exit(differing.isEmpty ? 0 : 1)
}
print("gen-sys-types: \(files.count) files, \(differing.count) rewritten")
