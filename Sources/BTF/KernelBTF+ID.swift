import EBPFSys

extension KernelBTF {
    /// Reads the BTF object the kernel knows by `id` (`BPF_BTF_GET_FD_BY_ID`, then
    /// `BPF_OBJ_GET_INFO_BY_FD` for its bytes): vmlinux, a module's BTF, or BTF a program loaded.
    ///
    /// Module BTF is split BTF: pass vmlinux as `base` (for instance `KernelBTF.cache.vmlinux()`).
    /// Requires `CAP_SYS_ADMIN` and Linux 5.4.
    public static func load(id: UInt32, base: BTFSpec? = nil) throws(BTFError) -> BTFSpec {
        let descriptor: FileDescriptor
        do {
            descriptor = try Sys.openObject(.btf, id: id)
        } catch {
            throw .kernelObject(id: id, command: "BPF_BTF_GET_FD_BY_ID", errno: error.errno.rawValue)
        }
        var info = BTFInfo()
        do {
            try Sys.objectInfo(of: descriptor, into: &info)
        } catch {
            throw .kernelObject(id: id, command: "BPF_OBJ_GET_INFO_BY_FD", errno: error.errno.rawValue)
        }
        let size = Int(info.btfSize)
        guard let storage = ByteStorage.zeroed(count: size) else {
            throw .kernelObject(id: id, command: "allocate", errno: 12)
        }
        // The second call copies the blob into the buffer; the size cannot change for a live object.
        var withBuffer = BTFInfo()
        withBuffer.btf = Sys.address(of: UnsafeRawPointer(storage.base))
        withBuffer.btfSize = info.btfSize
        do {
            try Sys.objectInfo(of: descriptor, into: &withBuffer)
        } catch {
            throw .kernelObject(id: id, command: "BPF_OBJ_GET_INFO_BY_FD", errno: error.errno.rawValue)
        }
        guard withBuffer.btfSize == info.btfSize else {
            throw .kernelObject(id: id, command: "BPF_OBJ_GET_INFO_BY_FD", errno: 28)
        }
        return try BTFSpec(storage: storage, base: base)
    }
}
