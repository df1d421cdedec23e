import EBPFBTF

/// Where the kernel keeps the operations table a struct_ops map fills: the table's struct (say
/// `tcp_congestion_ops`) and the wrapper the map's value is (`bpf_struct_ops_tcp_congestion_ops`,
/// whose `data` member holds the table), in vmlinux or in one module's BTF.
struct StructOpsKernelType {
    /// The BTF the two types were found in: vmlinux, or a module's split BTF.
    let btf: BTFSpec
    /// The module whose BTF holds them; nil for vmlinux.
    let module: String?
    /// The table's struct: the programs' `attach_btf_id`.
    let tableID: BTFTypeID
    let table: BTFComposite
    /// The wrapper struct: the map's `btf_vmlinux_value_type_id`; its size is the value size.
    let wrapperID: BTFTypeID
    let wrapperSize: UInt32
    /// The byte offset of the table inside the wrapper.
    let tableOffset: Int

    /// The prefix the kernel gives each wrapper type.
    static let wrapperPrefix = "bpf_struct_ops_"

    /// Looks for the wrapper of `tableName` in `candidates` (vmlinux first, then modules), and in
    /// it for the member whose type is the table struct. Nil when no candidate has one.
    static func find(
        _ tableName: String, in candidates: [(module: String?, btf: BTFSpec)]
    ) throws(StructOpsError) -> StructOpsKernelType? {
        for candidate in candidates {
            let btf = candidate.btf
            guard let wrapperID = btf.typeID(named: wrapperPrefix + tableName, kind: .struct) else { continue }
            // A module's split BTF finds vmlinux types too; those belong to the vmlinux candidate.
            if candidate.module != nil, wrapperID < btf.firstTypeID { continue }
            guard case .struct(let wrapper) = try decode(wrapperID, in: btf) else { continue }
            for member in wrapper.members {
                let memberType = try underlying(member.type, in: btf)
                guard case .struct(let table) = try decode(memberType, in: btf), table.name == tableName else { continue }
                return StructOpsKernelType(
                    btf: btf, module: candidate.module, tableID: memberType, table: table, wrapperID: wrapperID,
                    wrapperSize: wrapper.size, tableOffset: Int(member.bitOffset / 8))
            }
        }
        return nil
    }
}

/// What the loader needs to create and fill one struct_ops map, worked out from the object's
/// BTF and the kernel's without any system call (libbpf's `bpf_map__init_kern_struct_ops`).
struct StructOpsLayout {
    let kernel: StructOpsKernelType
    /// The map's value in the kernel's layout: the object's non-function members copied into the
    /// table by name, function-pointer slots still zero.
    var value: [UInt8]
    /// The function-pointer members set to programs, in the kernel table's member order.
    var slots: [Slot]

    struct Slot: Hashable {
        /// The member's name.
        var member: String
        /// The program the object sets it to.
        var program: String
        /// The member's index in the kernel's table: the program's expected attach type.
        var memberIndex: Int
        /// Where in ``StructOpsLayout/value`` the program's descriptor goes (8 bytes).
        var valueOffset: Int
    }

    /// The layout of map `mapSpec` (a struct_ops map of the object whose BTF is `objectTypes`)
    /// over `kernel`.
    ///
    /// A member the object has and the kernel's table lacks is skipped when the object leaves it
    /// zero and sets no program in it, since headers often describe newer kernels; otherwise it is
    /// an error. Members present in both must agree in kind and, for data, in size.
    init(mapSpec: MapSpec, objectTypes: BTFSpec, kernel: StructOpsKernelType) throws(StructOpsError) {
        self.kernel = kernel
        do throws(StructOpsError) {
            (value, slots) = try Self.lay(mapSpec, objectTypes: objectTypes, kernel: kernel)
        } catch {
            // The BTF helpers below do not know the map's name.
            throw StructOpsError(map: mapSpec.name, reason: error.reason)
        }
    }

    private static func lay(
        _ mapSpec: MapSpec, objectTypes: BTFSpec, kernel: StructOpsKernelType
    ) throws(StructOpsError) -> (value: [UInt8], slots: [Slot]) {
        let mapName = mapSpec.name
        guard let localID = mapSpec.valueType,
            case .struct(let local) = try Self.decode(Self.underlying(localID, in: objectTypes), in: objectTypes)
        else {
            throw StructOpsError(map: mapName, reason: .notAStruct)
        }
        var data: [UInt8] = []
        if case .bytes(let bytes)? = mapSpec.contents.first?.value {
            data = bytes
        }
        var value = [UInt8](repeating: 0, count: Int(kernel.wrapperSize))
        var slots: [Slot] = []
        for member in local.members {
            func failure(_ why: String) -> StructOpsError {
                StructOpsError(map: mapName, reason: .memberMismatch(member: member.name, why: why))
            }
            let localOffset = Int(member.bitOffset / 8)
            let localType = try Self.underlying(member.type, in: objectTypes)
            let localSize = try Self.size(of: localType, in: objectTypes)
            let program = mapSpec.structOpsPrograms[member.name]
            guard let kernelIndex = kernel.table.members.firstIndex(where: { $0.name == member.name }) else {
                let isZero = Self.bytes(of: data, at: localOffset, count: localSize).allSatisfy { $0 == 0 }
                guard program == nil, isZero else {
                    throw StructOpsError(
                        map: mapName, reason: .memberNotInKernel(member: member.name, table: kernel.table.name))
                }
                continue
            }
            let kernelMember = kernel.table.members[kernelIndex]
            guard member.bitfieldSize == 0, kernelMember.bitfieldSize == 0 else {
                throw failure("bitfield members are not supported")
            }
            let kernelType = try Self.underlying(kernelMember.type, in: kernel.btf)
            let localKind = try Self.decode(localType, in: objectTypes).kind
            let kernelKind = try Self.decode(kernelType, in: kernel.btf).kind
            guard localKind == kernelKind else {
                throw failure("the object's member is a \(localKind), the kernel's a \(kernelKind)")
            }
            let (kernelOffset, overflow) = kernel.tableOffset.addingReportingOverflow(Int(kernelMember.bitOffset / 8))
            guard !overflow else { throw failure("offset out of range") }
            if localKind == .pointer {
                guard let program else { continue }
                guard case .pointer(let pointer) = try Self.decode(kernelType, in: kernel.btf),
                    case .functionPrototype = try Self.decode(Self.underlying(pointer.target, in: kernel.btf), in: kernel.btf)
                else {
                    throw failure("the object sets program '\(program)' but the kernel's member is not a function pointer")
                }
                guard kernelOffset >= 0, kernelOffset <= value.count - 8 else { throw failure("offset out of range") }
                slots.append(Slot(member: member.name, program: program, memberIndex: kernelIndex, valueOffset: kernelOffset))
                continue
            }
            let kernelSize = try Self.size(of: kernelType, in: kernel.btf)
            guard localSize == kernelSize else {
                throw failure("the object's member has \(localSize) bytes, the kernel's \(kernelSize)")
            }
            guard kernelOffset >= 0, kernelOffset <= value.count - kernelSize else { throw failure("offset out of range") }
            let source = Self.bytes(of: data, at: localOffset, count: localSize)
            for (position, byte) in source.enumerated() {
                value[kernelOffset + position] = byte
            }
        }
        for (member, program) in mapSpec.structOpsPrograms.sorted(by: { $0.key < $1.key })
        where !local.members.contains(where: { $0.name == member }) {
            throw StructOpsError(map: mapName, reason: .memberMismatch(member: member, why: "program '\(program)' is set in a member the struct lacks"))
        }
        return (value, slots.sorted { $0.memberIndex < $1.memberIndex })
    }

    /// `value` with each slot holding its program's descriptor number (as the kernel reads a
    /// pointer: 8 bytes, host order).
    func value(descriptors: [String: Int32]) -> [UInt8] {
        var result = value
        for slot in slots {
            guard let descriptor = descriptors[slot.program] else { continue }
            Self.store(descriptor: descriptor, at: slot.valueOffset, in: &result)
        }
        return result
    }

    /// Puts `descriptor` into the 8-byte pointer slot at `offset` of `value`, as the kernel reads
    /// it (host order). The layout checked every slot's offset against the value's size, so an
    /// offset outside it comes from no layout and is left alone.
    static func store(descriptor: Int32, at offset: Int, in value: inout [UInt8]) {
        guard offset >= 0, offset <= value.count - 8 else { return }
        withUnsafeBytes(of: UInt64(UInt32(bitPattern: descriptor))) { bytes in
            for (position, byte) in bytes.enumerated() {
                value[offset + position] = byte
            }
        }
    }

    /// `count` bytes of `data` from `offset`, zeros past its end (the ELF section may be shorter
    /// than the struct only if the reader let it, so this is belt and braces).
    private static func bytes(of data: [UInt8], at offset: Int, count: Int) -> [UInt8] {
        guard offset >= 0, count > 0 else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        for position in 0..<count {
            let (index, overflow) = offset.addingReportingOverflow(position)
            guard !overflow, index < data.count else { break }
            result[position] = data[index]
        }
        return result
    }
}

extension StructOpsKernelType {
    fileprivate static func decode(_ id: BTFTypeID, in btf: BTFSpec) throws(StructOpsError) -> BTFType {
        do {
            return try btf.type(id)
        } catch {
            throw StructOpsError(map: "", reason: .btf(error))
        }
    }

    fileprivate static func underlying(_ id: BTFTypeID, in btf: BTFSpec) throws(StructOpsError) -> BTFTypeID {
        do {
            return try btf.underlyingTypeID(of: id)
        } catch {
            throw StructOpsError(map: "", reason: .btf(error))
        }
    }
}

extension StructOpsLayout {
    fileprivate static func decode(_ id: BTFTypeID, in btf: BTFSpec) throws(StructOpsError) -> BTFType {
        try StructOpsKernelType.decode(id, in: btf)
    }

    fileprivate static func underlying(_ id: BTFTypeID, in btf: BTFSpec) throws(StructOpsError) -> BTFTypeID {
        try StructOpsKernelType.underlying(id, in: btf)
    }

    fileprivate static func size(of id: BTFTypeID, in btf: BTFSpec) throws(StructOpsError) -> Int {
        let size: UInt64?
        do {
            size = try btf.size(of: id)
        } catch {
            throw StructOpsError(map: "", reason: .btf(error))
        }
        guard let size, let result = Int(exactly: size), result <= Int(UInt32.max) else {
            throw StructOpsError(map: "", reason: .btf(.invalidType(id: id, offset: 0, reason: "a struct_ops member without a size")))
        }
        return result
    }
}

/// Why a struct_ops map could not be made for the running kernel.
public struct StructOpsError: Error, Sendable, CustomStringConvertible {
    /// The map, by its name in the object.
    public var map: String
    public var reason: Reason

    public enum Reason: Sendable {
        /// Neither vmlinux nor a module has the struct_ops type `table` (no
        /// `bpf_struct_ops_<table>` wrapper): the kernel cannot take this operations table.
        case kernelTypeNotFound(table: String)
        /// A function-pointer `member` is set to `program`, which the spec has no program of.
        case programNotFound(member: String, program: String)
        /// `program` is set in members that need it loaded differently (another table or another
        /// member index: the kernel ties a struct_ops program to one member of one table).
        case programConflict(program: String, why: String)
        /// A struct_ops program was asked for, but no struct_ops map of the load sets it, so
        /// the table and member it is verified against are unknown.
        case programWithoutTable(program: String)
        /// The map's value type in the object's BTF is not a struct.
        case notAStruct
        /// The spec has no BTF (or it was not loaded): the kernel needs the object's BTF with a
        /// struct_ops map, and the loader needs it to find the members.
        case noObjectBTF
        /// The object sets `member` (to a program or to non-zero bytes), which the kernel's
        /// `table` has no member of that name for.
        case memberNotInKernel(member: String, table: String)
        /// The object's and the kernel's `member` disagree (kind, size, bitfield).
        case memberMismatch(member: String, why: String)
        /// The BTF could not be read.
        case btf(BTFError)
    }

    public var description: String {
        let subject = map.isEmpty ? "struct_ops" : "struct_ops map '\(map)'"
        switch reason {
        case .kernelTypeNotFound(let table):
            return "\(subject): the kernel has no struct_ops type \(table) (no struct \(StructOpsKernelType.wrapperPrefix)\(table) in vmlinux or module BTF)"
        case .programNotFound(let member, let program):
            return "\(subject): member '\(member)' is set to program '\(program)', which the spec does not have"
        case .programConflict(let program, let why): return "\(subject): program '\(program)': \(why)"
        case .notAStruct: return "\(subject): the value type is not a struct"
        case .programWithoutTable(let program):
            return "struct_ops program '\(program)' is set in no struct_ops map, so its kernel table is unknown"
        case .noObjectBTF: return "\(subject): needs the object's BTF, which is missing or was not loaded"
        case .memberNotInKernel(let member, let table):
            return "\(subject): member '\(member)' is set, but the kernel's struct \(table) has no such member"
        case .memberMismatch(let member, let why): return "\(subject): member '\(member)': \(why)"
        case .btf(let error): return "\(subject): \(error)"
        }
    }
}
