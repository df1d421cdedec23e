#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ELFFile {
    /// Reads the whole file at `path` and parses it.
    public init(path: String) throws(ELFError) {
        try self.init(bytes: Self.readFile(path))
    }

    /// The contents of the file at `path`, read with `open`/`fstat`/`read`.
    static func readFile(_ path: String) throws(ELFError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotRead(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotRead(path: path, operation: "fstat", errno: errno) }
        // The size is a hint: files in /proc and /sys report 0 or a page, and files may grow.
        var bytes = [UInt8](repeating: 0, count: max(Int(truncatingIfNeeded: status.st_size), 0) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                bytes += [UInt8](repeating: 0, count: max(bytes.count, 4096))
            }
            let result = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress.map { $0 + count }, buffer.count - count)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: path, operation: "read", errno: errno)
            }
            if result == 0 { break }
            count += result
        }
        bytes.removeSubrange(count...)
        return bytes
    }
}
