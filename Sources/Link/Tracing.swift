import EBPFCollection
import EBPFSys

/// BTF tracing programs (fentry, fexit, fmod_ret, tp_btf, LSM, freplace): the target was fixed
/// when the program was loaded (its attach BTF id), so attaching needs only the program.
/// Requires Linux 5.5 and a kernel with BTF; kernel lockdown refuses fentry/fexit.
public enum Tracing {
    /// Attaches a loaded ``ProgramType/tracing``, ``ProgramType/lsm`` or ``ProgramType/ext``
    /// program to the target it was loaded for. `attachType` is the program's expected attach
    /// type (fentry, fexit...), needed when the ``Program`` does not know it (opened by id, pin or
    /// descriptor); an LSM program without one attaches as ``AttachType/lsmMAC``. `cookie` needs
    /// Linux 6.0.
    public static func attach(
        program: Program, attachType: AttachType? = nil, cookie: UInt64 = 0
    ) throws(LinkError) -> RawLink {
        let hook = "\(program.type) program \(program.name)"
        return try Features.withProgram(program, [.tracing, .lsm, .ext], hook: hook) {
            (descriptor) throws(LinkError) -> RawLink in
            // The kernel ignores the attach type of an extension (its target was fixed at load).
            let fallback: AttachType? =
                switch program.type {
                case .lsm: .lsmMAC
                case .ext: AttachType(rawValue: 0)
                default: nil
                }
            guard let attachType = attachType ?? program.attachType ?? fallback else {
                throw .invalidOption("\(hook) has no expected attach type (fentry, fexit, ...) to attach as")
            }
            var attributes = LinkCreateTracingAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.attachType = attachType.rawValue
            attributes.cookie = cookie
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }
}
