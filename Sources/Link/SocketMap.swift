import EBPFCollection
import EBPFSys

/// Programs on a `BPF_MAP_TYPE_SOCKMAP` or `BPF_MAP_TYPE_SOCKHASH`: they run for the sockets in
/// the map. ``ProgramType/skSKB`` programs parse (``AttachType/skSKBStreamParser``) and judge
/// (``AttachType/skSKBStreamVerdict``, ``AttachType/skSKBVerdict``) received data;
/// ``ProgramType/skMsg`` programs (``AttachType/skMsgVerdict``) judge sent messages.
///
/// ```swift
/// let attachment = try SocketMap.attach(program: verdict, map: sockets, attachType: .skSKBStreamVerdict)
/// ```
public enum SocketMap {
    /// Attaches with `BPF_PROG_ATTACH` (Linux 4.14); closing the returned value detaches with
    /// `BPF_PROG_DETACH`. A map holds one program per attach type: attaching another replaces it.
    public static func attach(program: Program, map: Map, attachType: AttachType) throws(LinkError) -> LegacyAttachment {
        let hook = try validate(program: program, map: map, attachType: attachType)
        let target: FileDescriptor
        do { target = try map.duplicateFileDescriptor() } catch { throw StructOps.mapFailure(error, operation: "duplicate map \(map.name) for \(hook)") }
        // The attachment keeps its own program reference for the detach; taken before attaching
        // so that nothing stays attached when it cannot be taken.
        let clone = try Features.clone(program, hook: hook)
        let targetNumber = target.rawValue
        try Features.withProgram(program, [program.type], hook: hook) { (descriptor) throws(LinkError) in
            var attributes = ProgAttachAttr()
            attributes.targetFD = UInt32(bitPattern: targetNumber)
            attributes.attachBPFFD = UInt32(bitPattern: descriptor)
            attributes.attachType = attachType.rawValue
            do throws(BPFSyscallError) { try Sys.progAttach(attributes) } catch {
                throw .syscall(operation: "attach \(hook)", error: error)
            }
        }
        return LegacyAttachment(target: target, attachType: attachType, program: clone, hook: hook)
    }

    /// Attaches with a link (`BPF_LINK_CREATE`, Linux 6.10); closing the link detaches, and the
    /// link can be pinned and updated.
    public static func link(program: Program, map: Map, attachType: AttachType) throws(LinkError) -> RawLink {
        let hook = try validate(program: program, map: map, attachType: attachType)
        let created = try Features.withProgram(program, [program.type], hook: hook) {
            (descriptor) throws(LinkError) -> RawLink? in
            try map.withFileDescriptorValue { (mapNumber) throws(LinkError) -> RawLink in
                var attributes = LinkCreateAttr()
                attributes.progFD = UInt32(bitPattern: descriptor)
                attributes.targetFD = UInt32(bitPattern: mapNumber)
                attributes.attachType = attachType.rawValue
                do throws(BPFSyscallError) {
                    return RawLink(adopting: try Sys.linkCreate(attributes))
                } catch {
                    if error.errno == .invalidArgument {
                        throw .notSupported(
                            feature: "socket map links", requirement: "Linux 6.10",
                            detail: "BPF_LINK_CREATE for \(hook) returned EINVAL")
                    }
                    throw .syscall(operation: "attach \(hook)", error: error)
                }
            }
        }
        guard let created else { throw .invalidOption("map \(map.name) is closed") }
        return created
    }

    private static func validate(program: Program, map: Map, attachType: AttachType) throws(LinkError) -> String {
        let hook = "socket map \(map.name) (attach type \(attachType.rawValue))"
        guard map.type == .sockmap || map.type == .sockhash else {
            throw .invalidOption("\(hook): map type \(map.type) is not a sockmap or sockhash")
        }
        let expected: ProgramType
        switch attachType {
        case .skSKBStreamParser, .skSKBStreamVerdict, .skSKBVerdict: expected = .skSKB
        case .skMsgVerdict: expected = .skMsg
        default: throw .invalidOption("\(hook): not a socket map attach type")
        }
        guard program.type == expected else {
            throw .wrongProgramType(hook: hook, expected: [expected], actual: program.type)
        }
        return hook
    }
}
