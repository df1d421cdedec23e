import EBPFSys

/// A BTF object loaded in the kernel: vmlinux, a module's, or BTF a process loaded for its
/// programs and maps.
public struct LoadedBTFObject: Sendable, Hashable {
    /// The kernel-wide ID (what ``KernelBTF/load(id:base:)`` takes).
    public var id: UInt32
    /// `vmlinux` or the module's name for kernel BTF; usually empty for BTF a process loaded.
    public var name: String
    /// The size of the raw blob in bytes.
    public var size: Int
    /// Whether the kernel itself provides it (vmlinux or a module).
    public var isKernel: Bool

    /// Describes the BTF object with `id` (`BPF_BTF_GET_FD_BY_ID`, then its info).
    /// - Throws: ``BTFError/kernelObject(id:command:errno:)``; errno 2 (`ENOENT`) when it is gone.
    public init(id: UInt32) throws(BTFError) {
        let descriptor: FileDescriptor
        do {
            descriptor = try Sys.openObject(.btf, id: id)
        } catch {
            throw .kernelObject(id: id, command: "BPF_BTF_GET_FD_BY_ID", errno: error.errno.rawValue)
        }
        let info: BTFInfo
        do {
            (info, name) = try Sys.btfInfoAndName(of: descriptor)
        } catch {
            throw .kernelObject(id: id, command: "BPF_OBJ_GET_INFO_BY_FD", errno: error.errno.rawValue)
        }
        self.id = info.id
        size = Int(info.btfSize)
        isKernel = info.kernelBTF != 0
    }
}

extension KernelBTF {
    /// Every BTF object loaded in the kernel, by ascending ID. Objects that disappear between
    /// listing and opening are left out. Requires CAP_SYS_ADMIN.
    public static func loadedObjects() throws(BTFError) -> [LoadedBTFObject] {
        var objects: [LoadedBTFObject] = []
        var current: UInt32 = 0
        while true {
            let next: UInt32?
            do {
                next = try Sys.nextID(of: .btf, after: current)
            } catch {
                throw .kernelObject(id: current, command: "BPF_BTF_GET_NEXT_ID", errno: error.errno.rawValue)
            }
            guard let next else { return objects }
            current = next
            do {
                objects.append(try LoadedBTFObject(id: next))
            } catch .kernelObject(_, _, let errno) where errno == 2 {
                continue  // freed since it was listed
            }
        }
    }
}
