import EBPFSys
import Glibc

extension CollectionLoader {
    /// A BPF token derived from the BPF file system at `path` (`BPF_TOKEN_CREATE`; Linux 6.9).
    /// The file system must be mounted with delegation options in the caller's user namespace;
    /// otherwise the kernel refuses (`EOPNOTSUPP` when it delegates nothing, `EPERM` outside the
    /// owning namespace), and the error says so.
    func createToken(fileSystem path: String) throws(CollectionError) -> FileDescriptor {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else {
            throw CollectionError(.token, .syscall(BPFSyscallError(command: .tokenCreate, errno: Errno(rawValue: errno))))
        }
        defer { Glibc.close(directory) }
        var attributes = TokenCreateAttr()
        attributes.bpffsFD = UInt32(bitPattern: directory)
        do throws(BPFSyscallError) {
            return try Sys.tokenCreate(attributes)
        } catch {
            throw CollectionError(.token, .syscall(error))
        }
    }

}
