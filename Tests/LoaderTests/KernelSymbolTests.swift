import EBPFBTF
import EBPFCollection
import EBPFELF
import EBPFSys
import Glibc
import Testing
import TestSupport

extension LoaderSuites {
/// `.kconfig` and `.ksyms` on the running kernel: the values the program copies out equal what
/// the kernel's configuration, `uname` and kallsyms say. Runs on the host (6.18, conntrack kfuncs
/// built in) and in the VMs (conntrack kfuncs in Debian's nf_conntrack module, called through
/// `fd_array`).
@Suite("Kernel symbols and kconfig", .checksFileDescriptorLeaks, .enabled(if: Privileges.canUseBPF, Privileges.bpfSkipReason))
struct KernelSymbolTests {
    /// The running kernel's configuration, by option.
    static func kernelConfig() throws -> [String: String] {
        var text: [UInt8]
        let release = KernelBTF.kernelRelease()
        if let plain = readFile("/boot/config-\(release)") {
            text = plain
        } else {
            let unzipped = try runSubprocess("/bin/zcat", ["/proc/config.gz"])
            text = unzipped.standardOutput
        }
        var values: [String: String] = [:]
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    static func kallsymsAddress(_ name: String) -> UInt64? {
        let text = String(decoding: readFile("/proc/kallsyms") ?? [], as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 3, fields[2] == name { return UInt64(fields[0], radix: 16) }
        }
        return nil
    }

    @Test func externsResolveOnTheRunningKernel() throws {
        if TestKernel.current != .host {
            _ = try? runSubprocess("/sbin/modprobe", ["nf_conntrack"])
            KernelBTF.cache.flush()
        }
        let config = try Self.kernelConfig()
        let collection = try LoadedCollection(spec: try testdataSpec("externs_load"))
        defer { collection.close() }
        let run = try collection.program("read_externs").testRun(data: packet)
        #expect(run.returnValue == 2)

        func value(_ name: String) throws -> UInt64 { try collection.variable(name).get(as: UInt64.self) }
        let release = KernelBTF.kernelRelease().split(whereSeparator: { !$0.isNumber }).prefix(3).map { UInt64($0) ?? 0 }
        #expect(try value("kernel_version") == release[0] << 16 | release[1] << 8 | min(release[2], 255))
        #expect(try value("has_syscall_wrapper") == 1)
        #expect(try value("bpf_syscall") == 1)
        #expect(try value("hz") == UInt64(config["CONFIG_HZ"] ?? ""))
        let conntrack: UInt64 = switch config["CONFIG_NF_CONNTRACK"] {
        case "y": 1
        case "m": 2
        default: 0
        }
        #expect(try value("conntrack") == conntrack)
        #expect(try value("no_such_option") == 0)
        let hostname = String((config["CONFIG_DEFAULT_HOSTNAME"] ?? "").filter { $0 != "\"" })
        #expect(try collection.variable("hostname").string() == hostname)
        #expect(try value("schedule_address") == Self.kallsymsAddress("schedule"))
        #expect(try value("schedule_address") != 0)
        #expect(try value("missing_variable_address") == 0)
        #expect(try value("missing_kfunc_exists") == 0)
        // The lookup of an all-zero tuple finds nothing; the kfunc says so in opts.error.
        #expect(try collection.variable("lookup_error").get(as: Int64.self) < 0)
        // The .kconfig map is frozen: programs see constants.
        #expect(try collection.variable("CONFIG_HZ").isReadOnly)
    }

    @Test func aMissingStrongKernelSymbolIsNamed() throws {
        var spec = try testdataSpec("externs_load")
        // Renaming the kfunc in the instructions makes it one the kernel lacks.
        let program = try #require(spec.programs["read_externs"])
        spec.programs["read_externs"]?.instructions = program.instructions.map { instruction in
            guard instruction.symbolReference == "bpf_xdp_ct_lookup" else { return instruction }
            return instruction.withReference("no_such_kfunc_strong")
        }
        spec.kernelSymbols["no_such_kfunc_strong"] = KernelSymbolSpec(name: "no_such_kfunc_strong", kind: .function, isWeak: false)
        let error = #expect(throws: CollectionError.self) { try LoadedCollection(spec: spec) }
        guard case .kernelSymbolNotFound(name: "no_such_kfunc_strong", _)? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
    }
}
}
