import EBPFASM
import EBPFSys

// The probes themselves: the smallest map or program that tells the answer.

extension BPFFeatures {
    // MARK: - Map types

    static func probeMapType(_ type: MapType) throws(FeatureProbeError) {
        let feature = type.description
        var attributes = MapCreateAttr()
        attributes.mapType = type.rawValue
        attributes.keySize = 4
        attributes.valueSize = 4
        attributes.maxEntries = 1
        // Kept open until the probe map was created: the kernel reads them during creation.
        var keptOpen: [SharedDescriptor] = []
        switch type {
        case .arrayOfMaps, .hashOfMaps:
            do {
                let inner = try Sys.createMap(type: MapType.array.rawValue, keySize: 4, valueSize: 4, maxEntries: 1)
                attributes.innerMapFD = UInt32(bitPattern: inner.rawValue)
                keptOpen.append(SharedDescriptor(inner))
            } catch {
                throw .probeFailed(feature: feature, error)
            }
        case .stackTrace:
            attributes.valueSize = 8
        case .cgroupStorage, .percpuCgroupStorage:
            // The key is `struct bpf_cgroup_storage_key`; the kernel sizes these maps itself.
            attributes.keySize = 16
            attributes.valueSize = 8
            attributes.maxEntries = 0
        case .queue, .stack, .bloomFilter:
            attributes.keySize = 0
        case .lpmTrie:
            // `struct bpf_lpm_trie_key` followed by 4 bytes of data.
            attributes.keySize = 8
            attributes.mapFlags = MapFlags.noPreallocation.rawValue
        case .ringbuf, .userRingbuf:
            attributes.keySize = 0
            attributes.valueSize = 0
            attributes.maxEntries = 4096
        case .arena:
            attributes.keySize = 0
            attributes.valueSize = 0
            attributes.mapFlags = MapFlags.mmapable.rawValue
        case .skStorage, .inodeStorage, .taskStorage, .cgrpStorage:
            // Local storage maps need BTF for their key and value, and no preallocation.
            attributes.maxEntries = 0
            attributes.mapFlags = MapFlags.noPreallocation.rawValue
            do {
                let loaded = try Sys.loadBTF(integerTypeBTF)
                attributes.btfFD = UInt32(bitPattern: loaded.rawValue)
                attributes.btfKeyTypeID = 1
                attributes.btfValueTypeID = 1
                keptOpen.append(SharedDescriptor(loaded))
            } catch {
                throw .probeFailed(feature: "\(feature) (loading BTF for it)", error)
            }
        case .structOps:
            // Needs a kernel struct's BTF ID; ID 1 is an integer in every vmlinux BTF, which a
            // kernel that knows the map type refuses with ENOTSUPP rather than EINVAL.
            attributes.btfVmlinuxValueTypeID = 1
        default:
            break
        }
        let result = Result { () throws(BPFSyscallError) in _ = try Sys.mapCreate(attributes) }
        for descriptor in keptOpen {
            try? descriptor.close()
        }
        switch result {
        case .success:
            return
        case .failure(let error) where type == .structOps && error.errno == .kernelNotSupported:
            return
        case .failure(let error) where error.errno == .invalidArgument || error.errno == .argumentListTooLong:
            throw .unsupported(UnsupportedFeatureError(feature: feature, minimumKernelVersion: type.minimumKernelVersion))
        case .failure(let error):
            throw .probeFailed(feature: feature, error)
        }
    }

    /// A BTF blob with one type, `int` (ID 1), in the host's byte order.
    static var integerTypeBTF: [UInt8] {
        var blob: [UInt8] = []
        func append<Value: FixedWidthInteger>(_ value: Value) {
            withUnsafeBytes(of: value) { blob.append(contentsOf: $0) }
        }
        let strings: [UInt8] = [0] + Array("int".utf8) + [0]
        append(UInt16(0xEB9F))  // magic
        append(UInt8(1))  // version
        append(UInt8(0))  // flags
        append(UInt32(24))  // header length
        append(UInt32(0))  // type section offset
        append(UInt32(16))  // type section length
        append(UInt32(16))  // string section offset
        append(UInt32(strings.count))
        append(UInt32(1))  // name "int"
        append(UInt32(1) << 24)  // kind INT, no members
        append(UInt32(4))  // size
        append(UInt32(1) << 24 | 32)  // signed, offset 0, 32 bits
        blob.append(contentsOf: strings)
        return blob
    }

    // MARK: - Program types

    /// How to load a probe program of a type: the attach type and BTF ID the kernel insists on.
    struct ProbeLoadShape {
        var attachType: AttachType?
        var attachBTFID: UInt32 = 0
        /// The type only loads against a kernel function or struct: a probe cannot succeed, but a
        /// verifier log about the target shows the kernel knows the type.
        var needsKernelTarget = false
    }

    static func loadShape(for type: ProgramType) -> ProbeLoadShape {
        switch type {
        case .cgroupSockAddr: ProbeLoadShape(attachType: .cgroupINet4Connect)
        case .cgroupSockopt: ProbeLoadShape(attachType: .cgroupGetsockopt)
        case .skLookup: ProbeLoadShape(attachType: .skLookup)
        case .netfilter: ProbeLoadShape(attachType: .netfilter)
        case .tracing: ProbeLoadShape(attachType: .traceFEntry, attachBTFID: 1, needsKernelTarget: true)
        case .lsm: ProbeLoadShape(attachType: .lsmMAC, attachBTFID: 1, needsKernelTarget: true)
        case .ext, .structOps: ProbeLoadShape(attachType: nil, attachBTFID: 1, needsKernelTarget: true)
        default: ProbeLoadShape()
        }
    }

    static func probeProgramType(_ type: ProgramType) throws(FeatureProbeError) {
        let feature = type.description
        let shape = loadShape(for: type)
        let outcome = loadProbe(type: type, shape: shape, instructions: [.mov64(.r0, 0), .exit()])
        switch outcome {
        case .success:
            return
        case .failure(let error) where !(error.log ?? "").isEmpty:
            // The verifier (or the attach-target check) ran, so the kernel knows the type.
            return
        case .failure(let error) where error.errno == .invalidArgument || error.errno == .argumentListTooLong:
            throw .unsupported(UnsupportedFeatureError(feature: feature, minimumKernelVersion: type.minimumKernelVersion))
        case .failure(let error):
            throw .probeFailed(feature: feature, error)
        }
    }

    /// Loads a probe program with a small verifier log and closes it again.
    static func loadProbe(
        type: ProgramType, shape: ProbeLoadShape, instructions: [Instruction]
    ) -> Result<Void, BPFSyscallError> {
        let bytes: [UInt8]
        do {
            bytes = try instructions.encoded(byteOrder: .host)
        } catch {
            return .failure(BPFSyscallError(command: .progLoad, errno: .invalidArgument))
        }
        var attributes = ProgLoadAttr()
        attributes.progType = type.rawValue
        attributes.insnCnt = UInt32(truncatingIfNeeded: bytes.count / Instruction.slotSize)
        attributes.expectedAttachType = shape.attachType?.rawValue ?? 0
        attributes.attachBTFID = shape.attachBTFID
        let license: [UInt8] = Array("GPL".utf8) + [0]
        return bytes.withUnsafeBytes { instructionBytes in
            license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: instructionBytes.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return Result { () throws(BPFSyscallError) in
                    // The descriptor of a program that loaded is closed right away.
                    _ = try Sys.progLoad(attributes, logLevel: .instructions, logSize: 4096).takeDescriptor()
                }
            }
        }
    }

    // MARK: - Helpers

    static func probeHelper(_ helper: HelperFunction, in programType: ProgramType) throws(FeatureProbeError) {
        let feature = "helper \(helper) in \(programType)"
        let shape = loadShape(for: programType)
        guard !shape.needsKernelTarget else {
            throw .notProbeable(
                feature: feature, reason: "\(programType) programs only load against a kernel target")
        }
        do {
            try checkProgramType(programType)
        } catch {
            if case .unsupported(let missing) = error {
                throw .unsupported(
                    UnsupportedFeatureError(
                        feature: "\(feature) (\(missing.feature))", minimumKernelVersion: missing.minimumKernelVersion))
            }
            throw error
        }
        let outcome = loadProbe(
            type: programType, shape: shape,
            instructions: [.callHelper(helper.rawValue), .mov64(.r0, 0), .exit()])
        guard case .failure(let error) = outcome else { return }
        let log = error.log ?? ""
        let refusals = ["invalid func ", "unknown func ", "cannot use helper "]
        if error.errno == .invalidArgument || error.errno == .notPermitted || error.errno == .permissionDenied,
            refusals.contains(where: { log.contains($0) })
        {
            throw .unsupported(UnsupportedFeatureError(feature: feature))
        }
        if log.isEmpty {
            throw .probeFailed(feature: feature, error)
        }
        // Rejected for another reason (unset arguments): the helper itself was accepted.
    }

    // MARK: - Other features

    /// Creates a uprobe.multi link on "/" for a trivial kprobe program loaded for it: a kernel that
    /// knows the attach type gets as far as refusing the directory (`EBADF`); an older one
    /// refuses the attach type (`EINVAL`).
    static func probeUprobeMulti() throws(FeatureProbeError) {
        let feature = MiscFeature.uprobeMulti
        let unsupported = FeatureProbeError.unsupported(
            UnsupportedFeatureError(feature: feature.description, minimumKernelVersion: feature.minimumKernelVersion))
        // mov64 r0, 0; exit.
        let instructions: [UInt8] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]
        var program: FileDescriptor
        do {
            program = try Sys.loadProgram(
                type: ProgramType.kprobe.rawValue, instructions: instructions, license: "GPL",
                expectedAttachType: AttachType.traceUprobeMulti.rawValue
            ).takeDescriptor()
        } catch {
            if error.errno == .invalidArgument { throw unsupported }
            throw .probeFailed(feature: feature.description, error)
        }
        defer { try? program.close() }
        var path: [UInt8] = Array("/".utf8) + [0]
        var offsets: [UInt64] = [0]
        let outcome = path.withUnsafeMutableBytes { pathBytes in
            offsets.withUnsafeMutableBytes { offsetBytes in
                var attributes = LinkCreateUprobeMultiAttr()
                attributes.progFD = UInt32(bitPattern: program.rawValue)
                attributes.attachType = AttachType.traceUprobeMulti.rawValue
                attributes.count = 1
                attributes.path = Sys.address(of: pathBytes.baseAddress)
                attributes.offsets = Sys.address(of: offsetBytes.baseAddress)
                return Result { () throws(BPFSyscallError) -> Int32 in try Sys.linkCreate(attributes).relinquish() }
            }
        }
        switch outcome {
        case .success(let raw):
            // A link on a directory: no kernel creates one, but close it if one did.
            if var link = try? FileDescriptor(adopting: raw) { try? link.close() }
        case .failure(let error) where error.errno == Errno.badFileDescriptor:
            return
        case .failure(let error)
        where error.errno == .invalidArgument || error.errno == .notSupported || error.errno == .kernelNotSupported:
            throw unsupported
        case .failure(let error):
            throw .probeFailed(feature: feature.description, error)
        }
    }

    static func probeMisc(_ feature: MiscFeature) throws(FeatureProbeError) {
        let instructions: [Instruction]
        switch feature {
        case .largeInstructions:
            // One past the old limit of 4096.
            instructions = Array(repeating: .mov64(.r0, 0), count: 4096) + [.exit()]
        case .boundedLoops:
            instructions = [
                .mov64(.r0, 10),
                .sub64(.r0, 1),
                .jumpIf(.r0, .notEqual, 0, offset: -2),
                .exit(),
            ]
        case .instructionSetV2:
            instructions = [.mov64(.r0, 0), .jumpIf(.r0, .lessThan, 1, offset: 0), .exit()]
        case .instructionSetV3:
            instructions = [.mov64(.r0, 0), .jump32If(.r0, .lessThan, 1, offset: 0), .exit()]
        case .instructionSetV4:
            instructions = [.mov64(.r0, 0), .movsx64(.r0, .r0, from: .byte), .exit()]
        case .bpfCookie:
            do {
                try checkHelper(.getAttachCookie, in: .tracepoint)
                return
            } catch {
                if case .unsupported = error {
                    throw .unsupported(
                        UnsupportedFeatureError(feature: feature.description, minimumKernelVersion: feature.minimumKernelVersion))
                }
                throw error
            }
        case .uprobeMulti:
            try probeUprobeMulti()
            return
        default:
            throw .notProbeable(feature: feature.description, reason: "no probe is known for it")
        }
        switch loadProbe(type: .socketFilter, shape: ProbeLoadShape(), instructions: instructions) {
        case .success:
            return
        case .failure(let error)
        where error.errno == .invalidArgument || error.errno == .argumentListTooLong || error.errno == .permissionDenied:
            throw .unsupported(
                UnsupportedFeatureError(feature: feature.description, minimumKernelVersion: feature.minimumKernelVersion))
        case .failure(let error):
            throw .probeFailed(feature: feature.description, error)
        }
    }
}

// MARK: - Minimum kernel versions

extension MapType {
    /// The first mainline Linux version with this map type, nil when not recorded.
    public var minimumKernelVersion: String? {
        let versions: [UInt32: String] = [
            1: "3.19", 2: "3.19", 3: "4.2", 4: "4.3", 5: "4.6", 6: "4.6", 7: "4.6", 8: "4.8", 9: "4.10", 10: "4.10",
            11: "4.11", 12: "4.12", 13: "4.12", 14: "4.14", 15: "4.14", 16: "4.15", 17: "4.18", 18: "4.18",
            19: "4.19", 20: "4.19", 21: "4.20", 22: "4.20", 23: "4.20", 24: "5.2", 25: "5.4", 26: "5.6", 27: "5.8",
            28: "5.10", 29: "5.11", 30: "5.16", 31: "6.1", 32: "6.2", 33: "6.9",
        ]
        return versions[rawValue]
    }
}

extension ProgramType {
    /// The first mainline Linux version with this program type, nil when not recorded.
    public var minimumKernelVersion: String? {
        let versions: [UInt32: String] = [
            1: "3.19", 2: "4.1", 3: "4.1", 4: "4.1", 5: "4.7", 6: "4.8", 7: "4.9", 8: "4.10", 9: "4.10", 10: "4.10",
            11: "4.10", 12: "4.10", 13: "4.13", 14: "4.14", 15: "4.15", 16: "4.17", 17: "4.17", 18: "4.17",
            19: "4.18", 20: "4.18", 21: "4.19", 22: "4.20", 23: "5.2", 24: "5.2", 25: "5.3", 26: "5.5", 27: "5.6",
            28: "5.6", 29: "5.7", 30: "5.9", 31: "5.14", 32: "6.4",
        ]
        return versions[rawValue]
    }
}
