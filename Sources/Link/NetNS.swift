import EBPFCollection
import EBPFSys
import Glibc

/// Network namespace links: a flow dissector (``ProgramType/flowDissector``, Linux 5.7) or a
/// socket lookup program (``ProgramType/skLookup``, Linux 5.9) for every packet of one network
/// namespace. The attach type follows from the program type.
///
/// ```swift
/// let link = try NetNS.attach(program: dissector, namespacePath: "/proc/self/ns/net")
/// ```
public enum NetNS {
    /// Attaches `program` to the network namespace at `namespacePath` (a `/proc/PID/ns/net` file
    /// or a bind mount of one, such as `/run/netns/NAME`).
    public static func attach(program: Program, namespacePath: String = "/proc/self/ns/net") throws(LinkError) -> RawLink {
        let namespace = try openNamespace(namespacePath)
        return try attach(program: program, namespaceDescriptor: namespace.rawValue, what: namespacePath)
    }

    /// Attaches `program` to the network namespace open as `namespaceDescriptor`.
    public static func attach(program: Program, namespaceDescriptor: Int32) throws(LinkError) -> RawLink {
        try attach(program: program, namespaceDescriptor: namespaceDescriptor, what: "descriptor \(namespaceDescriptor)")
    }

    /// The attach type for a network namespace program of `type`, nil for other types.
    public static func attachType(for type: ProgramType) -> AttachType? {
        switch type {
        case .flowDissector: .flowDissector
        case .skLookup: .skLookup
        default: nil
        }
    }

    static func attach(program: Program, namespaceDescriptor: Int32, what: String) throws(LinkError) -> RawLink {
        let expected: [ProgramType] = [.flowDissector, .skLookup]
        let hook = "\(program.type == .skLookup ? "sk_lookup" : "flow dissector") on network namespace \(what)"
        guard let attachType = attachType(for: program.type) else {
            throw .wrongProgramType(hook: "network namespace \(what)", expected: expected, actual: program.type)
        }
        return try Features.withProgram(program, expected, hook: hook) { (descriptor) throws(LinkError) -> RawLink in
            var attributes = LinkCreateAttr()
            attributes.progFD = UInt32(bitPattern: descriptor)
            attributes.targetFD = UInt32(bitPattern: namespaceDescriptor)
            attributes.attachType = attachType.rawValue
            do throws(BPFSyscallError) {
                return RawLink(adopting: try Sys.linkCreate(attributes))
            } catch {
                // A flow dissector attached with BPF_PROG_ATTACH blocks links (and the reverse).
                if error.errno == .fileExists {
                    throw .attachPointBusy(hook: hook, detail: "a program is attached there already")
                }
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
    }

    static func openNamespace(_ path: String) throws(LinkError) -> FileDescriptor {
        let raw: Int32
        switch SystemCalls.open(path, flags: O_RDONLY) {
        case .success(let descriptor): raw = descriptor
        case .failure(let error): throw .system(operation: "open network namespace \(path)", errno: error)
        }
        do { return try FileDescriptor(adopting: raw) } catch {
            throw .system(operation: "open network namespace \(path)", errno: error)
        }
    }
}
