import EBPFELFFile
import Glibc

extension USDT {
    /// Where each location's instruction is in the traced process: the address the program sees
    /// in `PT_REGS_IP` and looks up in `__bpf_usdt_ip_to_spec_id`. A non-PIE executable (`ET_EXEC`)
    /// runs at its link-time addresses; a shared library or PIE executable is placed by the
    /// loader, so its base comes from the process's `/proc/PID/maps`.
    static func runtimeAddresses(
        of locations: [USDTProbe], file: ELFFile, path: String, pid: Int32?, probe: USDTError.ProbeName
    ) throws(LinkError) -> [UInt64] {
        guard file.header.type != .executable else { return locations.map(\.address) }
        guard let pid else {
            throw .usdt(
                .instructionPointerUnknown(
                    probe, reason: "\(path) is position-independent; spec lookup by instruction pointer needs a pid"))
        }
        let mappings = try executableMappings(of: path, pid: pid, probe: probe)
        var addresses: [UInt64] = []
        for location in locations {
            guard let mapping = mappings.first(where: {
                location.fileOffset >= $0.offset && location.fileOffset - $0.offset < $0.end - $0.start
            }) else {
                throw .usdt(
                    .instructionPointerUnknown(
                        probe,
                        reason: "file offset 0x\(String(location.fileOffset, radix: 16)) is in no executable mapping of \(path) in process \(pid)"))
            }
            addresses.append(mapping.start + (location.fileOffset - mapping.offset))
        }
        return addresses
    }

    /// One executable line of `/proc/PID/maps`.
    struct Mapping: Equatable {
        var start: UInt64
        var end: UInt64
        var offset: UInt64
    }

    /// The executable mappings of the file at `path` in process `pid`.
    static func executableMappings(of path: String, pid: Int32, probe: USDTError.ProbeName) throws(LinkError) -> [Mapping] {
        let mapsPath = "/proc/\(pid)/maps"
        guard let text = Tracefs.readText(mapsPath) else {
            throw .usdt(.instructionPointerUnknown(probe, reason: "cannot read \(mapsPath)"))
        }
        let mappings = parseMappings(text, path: path)
        guard !mappings.isEmpty else {
            throw .usdt(.instructionPointerUnknown(probe, reason: "process \(pid) has not mapped \(path) executable"))
        }
        return mappings
    }

    /// Parses `/proc/PID/maps` lines (`start-end perms offset dev inode path`), keeping the
    /// executable ones of `path`.
    static func parseMappings(_ text: String, path: String) -> [Mapping] {
        var result: [Mapping] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[5].trimmingPrefix(while: { $0 == " " }) == path else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                end > start, let offset = UInt64(fields[2], radix: 16), fields[1].count >= 3,
                fields[1][fields[1].index(fields[1].startIndex, offsetBy: 2)] == "x"
            else { continue }
            result.append(Mapping(start: start, end: end, offset: offset))
        }
        return result
    }
}
