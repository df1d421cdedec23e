import EBPFSys
import Glibc

extension CollectionLoader {
    /// A BPF token derived from the BPF file system at `path` (`BPF_TOKEN_CREATE`; Linux 6.9).
    /// The file system must be mounted with delegation options (`delegate_cmds=...`) for the
    /// caller's user namespace, and `path` must be its root; otherwise the error says which of
    /// these the kernel found missing.
    func createToken(fileSystem path: String) throws(CollectionError) -> FileDescriptor {
        let directory: Int32
        switch SystemCalls.open(path, flags: O_RDONLY | O_DIRECTORY) {
        case .success(let descriptor): directory = descriptor
        case .failure(let errno):
            throw CollectionError(
                .token,
                .tokenUnavailable(
                    fileSystem: path, BPFSyscallError(command: .tokenCreate, errno: errno),
                    why: "the BPF file system cannot be opened as a directory"))
        }
        defer { SystemCalls.close(directory) }
        var attributes = TokenCreateAttr()
        attributes.bpffsFD = UInt32(bitPattern: directory)
        do throws(BPFSyscallError) {
            return try Sys.tokenCreate(attributes)
        } catch {
            throw CollectionError(.token, .tokenUnavailable(fileSystem: path, error, why: Self.tokenRefusal(error.errno)))
        }
    }

    /// What the kernel's `BPF_TOKEN_CREATE` means by `errno`.
    static func tokenRefusal(_ errno: Errno) -> String {
        switch errno {
        case .notSupported:
            "tokens are only created inside a user namespace other than the initial one (the BPF file system must be mounted for that namespace)"
        case .noSuchFileOrDirectory:
            "the BPF file system delegates nothing: mount it with delegate_cmds, delegate_maps, delegate_progs or delegate_attachs"
        case .notPermitted:
            "the BPF file system belongs to another user namespace than the caller's, or the caller lacks CAP_BPF in it"
        case .invalidArgument:
            "the path is not the root of a BPF file system, or the kernel does not know BPF_TOKEN_CREATE (before Linux 6.9)"
        default:
            "BPF_TOKEN_CREATE failed"
        }
    }
}
