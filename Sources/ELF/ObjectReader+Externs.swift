import EBPFASM
import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Lays out the `.kconfig` externs (`extern int CONFIG_X __kconfig`) as libbpf does: sorted by
    /// alignment (widest first), then by name, each at the next offset its alignment allows; the
    /// map's value ends with the last extern. The loader fills the values from the running
    /// kernel's config; the spec holds zeros. Each extern also becomes a read-only variable.
    mutating func readKconfig() throws(BPFObjectError) {
        guard let dataSection = try dataSection(named: ".kconfig") else { return }
        var externs: [(name: String, type: BTFTypeID, size: UInt64, alignment: UInt64)] = []
        for info in dataSection.variables {
            guard case .variable(let variable) = try btfType(info.type) else { continue }
            guard let size = try btfSize(variable.type), size > 0, size <= UInt64(UInt32.max) else {
                throw .badExtern(section: ".kconfig", symbol: variable.name, reason: "type has no size")
            }
            externs.append((variable.name, variable.type, size, try btfAlignment(variable.type)))
        }
        guard !externs.isEmpty else { return }
        externs.sort { ($1.alignment, $0.name) < ($0.alignment, $1.name) }
        var offset: UInt64 = 0
        for extern in externs {
            offset = (offset + extern.alignment - 1) / extern.alignment * extern.alignment
            guard offset <= Self.maximumDataSize, extern.size <= Self.maximumDataSize else {
                throw .dataTooLarge(section: ".kconfig", size: max(offset, extern.size), limit: Self.maximumDataSize)
            }
            kconfigOffsets[extern.name] = UInt32(offset)
            guard spec.variables[extern.name] == nil else { throw .duplicateName(kind: "variable", name: extern.name) }
            spec.variables[extern.name] = VariableSpec(
                name: extern.name, mapName: ".kconfig", offset: UInt32(offset), size: UInt32(extern.size),
                isReadOnly: true, typeID: extern.type)
            offset += extern.size
        }
        // libbpf sizes the map to the end of the last extern, without rounding.
        let size = offset
        guard size <= Self.maximumDataSize else {
            throw .dataTooLarge(section: ".kconfig", size: size, limit: Self.maximumDataSize)
        }
        try addMap(
            MapSpec(
                name: ".kconfig", type: .array, keySize: 4, valueSize: UInt32(size), maxEntries: 1,
                flags: [.readOnlyProgram, .mmapable],
                contents: [MapEntry(key: [0, 0, 0, 0], value: .bytes([UInt8](repeating: 0, count: Int(size))))],
                freeze: true, valueType: types?.typeID(named: ".kconfig", kind: .dataSection)))
    }

    /// Records the `.ksyms` externs (kfuncs and kernel variables declared `__ksym`) with their BTF
    /// types and whether they are weak.
    mutating func readKsyms() throws(BPFObjectError) {
        guard let dataSection = try dataSection(named: ".ksyms") else { return }
        for info in dataSection.variables {
            let name: String
            let kind: KernelSymbolSpec.Kind
            let typeID: BTFTypeID
            switch try btfType(info.type) {
            case .variable(let variable):
                name = variable.name
                kind = .variable
                typeID = variable.type
            case .function(let function):
                name = function.name
                kind = .function
                typeID = info.type
            default:
                throw .badExtern(section: ".ksyms", symbol: "type \(info.type)", reason: "neither a variable nor a function")
            }
            let isWeak = symbols.first(where: { $0.name == name && $0.isUndefined })?.binding == .weak
            spec.kernelSymbols[name] = KernelSymbolSpec(name: name, kind: kind, isWeak: isWeak, typeID: typeID)
        }
    }

    /// Turns a reference to an undefined symbol into what the loader needs: a `.kconfig` value, a
    /// kfunc call or a kernel variable, each named in ``Instruction/symbolReference``.
    mutating func relocateExtern(
        _ instruction: inout Instruction, symbol: ELFSymbol, section: ELFSection, offset: UInt64
    ) throws(BPFObjectError) {
        if let kconfigOffset = kconfigOffsets[symbol.name] {
            guard instruction.isWide else {
                throw .unsupportedRelocation(
                    section: section.displayName, offset: offset, symbol: symbol.name, reason: "kconfig extern used by an instruction that is not lddw")
            }
            instruction.source = Register(rawValue: LoadImmediateSource.mapValue.rawValue)
            instruction.constant = Int64(kconfigOffset) << 32
            instruction.setSymbolReference(sharedReference(".kconfig", symbol: symbol.index))
            return
        }
        if instruction.opCode == .call {
            instruction.source = Register(rawValue: CallKind.kernelFunction.rawValue)
            instruction.constant = -1
            instruction.setSymbolReference(sharedReference(symbol.name, symbol: symbol.index))
            if spec.kernelSymbols[symbol.name] == nil {
                spec.kernelSymbols[symbol.name] = KernelSymbolSpec(name: symbol.name, kind: .function, isWeak: symbol.binding == .weak)
            }
            return
        }
        guard instruction.isWide else {
            throw .unsupportedRelocation(
                section: section.displayName, offset: offset, symbol: symbol.name, reason: "extern used by an instruction that is neither lddw nor call")
        }
        // A typed kernel variable is loaded by BTF id; one declared `void` by its kallsyms address.
        if let known = spec.kernelSymbols[symbol.name], let typeID = known.typeID, try resolvedType(typeID).type != .void {
            instruction.source = Register(rawValue: LoadImmediateSource.btfID.rawValue)
        }
        instruction.constant = 0
        instruction.setSymbolReference(sharedReference(symbol.name, symbol: symbol.index))
        if spec.kernelSymbols[symbol.name] == nil {
            spec.kernelSymbols[symbol.name] = KernelSymbolSpec(name: symbol.name, kind: .variable, isWeak: symbol.binding == .weak)
        }
    }
}
