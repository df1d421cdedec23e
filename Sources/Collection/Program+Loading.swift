import EBPFASM
import EBPFBTF
import EBPFSys

/// What a collection load adds to a program's `BPF_PROG_LOAD` beyond its instructions: the
/// object's BTF with function and line info, the attach target, module BTF for kfuncs, a token.
struct ProgramLoadContext {
    /// The object's loaded BTF, its descriptor number, and the line-info string offsets in it.
    var btf: LoadedObjectBTF?
    /// `attach_btf_id`: the target function or tracepoint in the kernel's (or a program's) BTF.
    var attachBTFID: UInt32 = 0
    /// `attach_btf_obj_fd` (a module's BTF) or `attach_prog_fd` (a program, for `freplace`).
    var attachObjectDescriptor: UInt32 = 0
    /// `fd_array`: module BTF descriptors kfunc calls refer to by index (index 0 unused).
    var descriptorArray: [Int32] = []
    /// `prog_token_fd`, with `BPF_F_TOKEN_FD` in the flags.
    var token: Int32?
    /// The program's `bpf_line_info` records when the loader made them with ``btf``; otherwise
    /// they are made from the program's line info.
    var lineInfoRecords: [UInt32]?
}

extension Program {
    /// Loads a linked and resolved program with what a collection load knows about it.
    convenience init(
        linked spec: ProgramSpec, context: ProgramLoadContext, options: ProgramOptions
    ) throws(ProgramError) {
        func failure(_ reason: ProgramError.Reason) -> ProgramError {
            ProgramError(programName: spec.name, operation: .load, reason: reason)
        }
        guard !spec.instructions.isEmpty else { throw failure(.noInstructions) }
        if let unresolved = spec.instructions.firstUnresolvedReference {
            throw failure(.unresolvedReference(index: unresolved.index, symbol: unresolved.symbol))
        }
        var attributes = ProgLoadAttr()
        do {
            attributes.progName = try KernelObjectName.make(spec.name)
        } catch {
            throw failure(.invalidName(error))
        }
        let bytes: [UInt8]
        do {
            bytes = try spec.instructions.encoded(byteOrder: .host)
        } catch {
            throw failure(.encoding(error))
        }
        attributes.progType = spec.type.rawValue
        attributes.insnCnt = UInt32(truncatingIfNeeded: bytes.count / Instruction.slotSize)
        attributes.expectedAttachType = spec.attachType?.rawValue ?? 0
        attributes.progFlags = spec.flags.rawValue
        attributes.kernVersion = spec.kernelVersion
        attributes.attachBTFID = context.attachBTFID
        attributes.attachProgFD = context.attachObjectDescriptor
        if let token = context.token {
            attributes.progTokenFD = token
            attributes.progFlags |= Self.tokenFlag
        }

        var funcInfo: [UInt32] = []
        var lineInfo: [UInt32] = []
        if let btf = context.btf {
            attributes.progBTFFD = btf.rawDescriptor
            funcInfo.reserveCapacity(spec.functionInfos.count * 2)
            for info in spec.functionInfos {
                funcInfo.append(info.instructionOffset / 8)
                funcInfo.append(info.type.rawValue)
            }
            lineInfo = context.lineInfoRecords ?? btf.lineInfoRecords(for: spec.lineInfos)
        }
        // Buffers rather than closures over the arrays: the loaded program is noncopyable.
        let instructionStorage = Self.storage(for: bytes)
        let licenseStorage = Self.storage(for: Array(spec.license.utf8) + [0])
        let funcInfoStorage = Self.storage(for: funcInfo)
        let lineInfoStorage = Self.storage(for: lineInfo)
        let descriptorStorage = Self.storage(for: context.descriptorArray)
        defer {
            for buffer in [instructionStorage, licenseStorage, funcInfoStorage, lineInfoStorage, descriptorStorage] {
                buffer.deallocate()
            }
        }
        attributes.insns = Sys.address(of: instructionStorage.baseAddress)
        attributes.license = Sys.address(of: licenseStorage.baseAddress)
        if !funcInfo.isEmpty {
            attributes.funcInfoRecSize = 8
            attributes.funcInfoCnt = UInt32(funcInfo.count / 2)
            attributes.funcInfo = Sys.address(of: funcInfoStorage.baseAddress)
        }
        if !lineInfo.isEmpty {
            attributes.lineInfoRecSize = 16
            attributes.lineInfoCnt = UInt32(lineInfo.count / 4)
            attributes.lineInfo = Sys.address(of: lineInfoStorage.baseAddress)
        }
        if !context.descriptorArray.isEmpty {
            attributes.fdArray = Sys.address(of: descriptorStorage.baseAddress)
        }
        let log: String
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            if options.logDisabled {
                descriptor = try Sys.progLoadWithoutLog(attributes)
                log = ""
            } else {
                let loaded = try Sys.progLoad(attributes, logLevel: options.logLevel, logSize: options.logSize)
                log = loaded.log
                descriptor = loaded.takeDescriptor()
            }
        } catch {
            throw failure(Program.loadFailureReason(error, programName: spec.name))
        }
        self.init(
            owning: descriptor, name: spec.name, type: spec.type, attachType: spec.attachType, verifierLog: log,
            sectionName: spec.sectionName.isEmpty ? nil : spec.sectionName)
    }

    /// A copy of `elements`' bytes (in the host's byte order) that the caller deallocates.
    private static func storage<Element: BitwiseCopyable>(for elements: [Element]) -> UnsafeMutableRawBufferPointer {
        elements.withUnsafeBytes { bytes in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
            buffer.copyMemory(from: bytes)
            return buffer
        }
    }
    /// `BPF_F_TOKEN_FD` in `prog_flags`.
    static let tokenFlag: UInt32 = 1 << 16
}
