import EBPFBTF
import EBPFSys

/// How one struct_ops program is loaded: for which kernel table and which member of it.
struct StructOpsAttachment: Hashable {
    /// The table's struct in the kernel's BTF: `attach_btf_id`.
    var tableID: BTFTypeID
    /// The module whose BTF holds the table; nil for vmlinux.
    var module: String?
    /// The member's index in the table: `expected_attach_type`.
    var memberIndex: Int
    /// The map and member that decided it, for error messages.
    var map: String
    var member: String
}

extension CollectionLoader {
    // MARK: - struct_ops maps

    /// Creates a struct_ops map the way the kernel wants it: the value is the kernel's wrapper
    /// (`bpf_struct_ops_<table>`, named by `btf_vmlinux_value_type_id`, with the module's BTF as
    /// `value_type_btf_obj_fd` when a module defines it), the object's BTF goes along as
    /// `btf_fd`, and the value itself is written (or, without ``MapFlags/link``, prepared for a
    /// later registration) once the programs are loaded (``fillStructOps(ofMap:)``). Records
    /// which member each program fills, for its load.
    func createStructOpsMap(_ mapSpec: MapSpec) throws(CollectionError) -> Map {
        let name = mapSpec.name
        func failure(_ reason: StructOpsError.Reason) -> CollectionError {
            CollectionError(.map(name), .structOps(StructOpsError(map: name, reason: reason)))
        }
        guard let objectTypes = spec.types, let objectBTF else { throw failure(.noObjectBTF) }
        guard let localID = mapSpec.valueType else { throw failure(.notAStruct) }
        let local: BTFType
        do {
            local = try objectTypes.type(try objectTypes.underlyingTypeID(of: localID))
        } catch {
            throw failure(.btf(error))
        }
        guard case .struct(let composite) = local else { throw failure(.notAStruct) }
        let tableName = Self.essentialName(composite.name)
        let kernelType = try findStructOpsKernelType(tableName, map: name)
        let layout: StructOpsLayout
        do {
            layout = try StructOpsLayout(mapSpec: mapSpec, objectTypes: objectTypes, kernel: kernelType)
        } catch {
            throw CollectionError(.map(name), .structOps(error))
        }
        for slot in layout.slots {
            guard spec.programs[slot.program]?.type == .structOps else {
                throw failure(.programNotFound(member: slot.member, program: slot.program))
            }
            let attachment = StructOpsAttachment(
                tableID: kernelType.tableID, module: kernelType.module, memberIndex: slot.memberIndex, map: name,
                member: slot.member)
            if let earlier = structOpsAttachments[slot.program],
                earlier.tableID != attachment.tableID || earlier.module != attachment.module
                    || earlier.memberIndex != attachment.memberIndex
            {
                throw failure(
                    .programConflict(
                        program: slot.program,
                        why: "set in member '\(earlier.member)' of map '\(earlier.map)' and in member '\(slot.member)' of map '\(name)'"))
            }
            structOpsAttachments[slot.program] = attachment
        }

        var attributes = MapCreateAttr()
        attributes.mapType = MapType.structOps.rawValue
        attributes.keySize = 4
        attributes.valueSize = kernelType.wrapperSize
        attributes.maxEntries = 1
        attributes.mapFlags = mapSpec.flags.rawValue
        attributes.btfFD = objectBTF.rawDescriptor
        attributes.btfVmlinuxValueTypeID = kernelType.wrapperID.rawValue
        do {
            attributes.mapName = try KernelObjectName.make(name)
        } catch {
            throw CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: .invalidName(error))))
        }
        if let module = kernelType.module {
            attributes.valueTypeBTFObjFD = try moduleBTFDescriptor(module, step: .map(name))
            attributes.mapFlags |= MapFlags.valueTypeBTFObjectFileDescriptor.rawValue
        }
        if let token {
            attributes.mapTokenFD = token
            attributes.mapFlags |= MapFlags.tokenFileDescriptor.rawValue
        }
        let descriptor: FileDescriptor
        do throws(BPFSyscallError) {
            descriptor = try Sys.mapCreate(attributes)
        } catch {
            throw CollectionError(.map(name), .map(MapError(mapName: name, operation: .create, reason: .syscall(error))))
        }
        let map: Map
        do throws(MapError) {
            map = try Map(
                owning: descriptor, name: name, type: .structOps, keySize: 4, valueSize: kernelType.wrapperSize,
                maxEntries: 1, flags: mapSpec.flags, operation: .create)
        } catch {
            throw CollectionError(.map(name), .map(error))
        }
        structOpsLayouts[name] = layout
        return map
    }

    /// The kernel's table `tableName` and its wrapper, in vmlinux or else in a module.
    private func findStructOpsKernelType(_ tableName: String, map: String) throws(CollectionError) -> StructOpsKernelType {
        func find(_ candidates: [(module: String?, btf: BTFSpec)]) throws(CollectionError) -> StructOpsKernelType? {
            do {
                return try StructOpsKernelType.find(tableName, in: candidates)
            } catch {
                throw CollectionError(.map(map), .structOps(StructOpsError(map: map, reason: error.reason)))
            }
        }
        if let found = try find([(nil, kernel.vmlinux())]) {
            return found
        }
        // Module BTF is read only when vmlinux lacks the table (sched_ext's and others' tables
        // live in modules).
        if let found = try find(kernel.modules().map { (Optional($0.name), $0.spec) }) {
            return found
        }
        throw CollectionError(.map(map), .structOps(StructOpsError(map: map, reason: .kernelTypeNotFound(table: tableName))))
    }

    /// The descriptor number of module `module`'s BTF object, open for the whole load.
    func moduleBTFDescriptor(_ module: String, step: CollectionError.Step) throws(CollectionError) -> Int32 {
        let handle = try kernel.moduleBTFHandle(module)
        do {
            return try handle.withDescriptor { (descriptor: borrowing FileDescriptor) throws(BTFLoadError) -> Int32 in
                descriptor.rawValue
            }
        } catch {
            throw CollectionError(step, .btfLoad(error))
        }
    }

    /// Sets what loading a struct_ops program needs: the table as `attach_btf_id` (with the
    /// module's BTF as `attach_btf_obj_fd`) and the member's index as the expected attach type.
    /// False when no struct_ops map of this load sets the program, so the table is unknown.
    func prepareStructOpsProgram(_ program: inout ProgramSpec, context: inout ProgramLoadContext) throws(CollectionError) -> Bool {
        guard let attachment = structOpsAttachments[program.name] else { return false }
        program.attachType = AttachType(rawValue: UInt32(attachment.memberIndex))
        context.attachBTFID = attachment.tableID.rawValue
        if let module = attachment.module {
            context.attachObjectDescriptor = UInt32(bitPattern: try moduleBTFDescriptor(module, step: .program(program.name)))
        }
        return true
    }

    /// Fills struct_ops map `name` once its programs are loaded: the object's data in the
    /// kernel's layout and each program's descriptor in its member.
    ///
    /// A map with ``MapFlags/link`` gets its value (element 0) written now: for such a map the
    /// write does not register the table, a `BPF_STRUCT_OPS` link does (`StructOps.attach(map:)`
    /// in EBPFLink), and closing the link unregisters it. A map without the flag registers the
    /// moment its value is written, and stays registered after every descriptor closes, so its
    /// value is only prepared here and kept with the map (with clones of its programs); the
    /// attach writes it and returns something that deletes element 0 again. This is what
    /// libbpf does: a load registers nothing.
    func fillStructOps(ofMap name: String) throws(CollectionError) {
        guard let layout = structOpsLayouts[name], let map = objects.maps[name], !objects.replacedMapNames.contains(name),
            !isReusedPin(name)
        else { return }
        func loadedProgram(for slot: StructOpsLayout.Slot) throws(CollectionError) -> Program {
            guard let program = objects.programs[slot.program], !program.isClosed else {
                throw CollectionError(
                    .fillMap(name), .structOps(StructOpsError(map: name, reason: .programNotFound(member: slot.member, program: slot.program))))
            }
            return program
        }
        guard map.flags.contains(.link) else {
            var slots: [PreparedStructOpsValue.Slot] = []
            for slot in layout.slots {
                let program = try loadedProgram(for: slot)
                do throws(ProgramError) {
                    slots.append(PreparedStructOpsValue.Slot(member: slot.member, valueOffset: slot.valueOffset, program: try program.clone()))
                } catch {
                    throw CollectionError(.fillMap(name), .program(error))
                }
            }
            map.prepareStructOpsValue(PreparedStructOpsValue(bytes: layout.value, slots: slots))
            return
        }
        var descriptors: [String: Int32] = [:]
        for slot in layout.slots {
            // The loader owns the programs until the load returns, so the numbers stay valid.
            descriptors[slot.program] = try loadedProgram(for: slot).descriptor.rawValue
        }
        do throws(MapError) {
            try map.update(keyBytes: [0, 0, 0, 0], valueBytes: layout.value(descriptors: descriptors))
        } catch {
            throw CollectionError(.fillMap(name), .map(error))
        }
    }

    /// `name` without a CO-RE flavour suffix (`tcp_congestion_ops___v2` -> `tcp_congestion_ops`),
    /// so that an object can carry several versions of a table.
    static func essentialName(_ name: String) -> String {
        let characters = Array(name)
        var index = characters.count - 3
        while index > 0 {
            if characters[index] == "_", characters[index + 1] == "_", characters[index + 2] == "_",
                characters[index - 1] != "_", index + 3 < characters.count, characters[index + 3] != "_"
            {
                return String(characters[..<index])
            }
            index -= 1
        }
        return name
    }
}
