import EBPFBTF
import EBPFCollection
import EBPFELFFile

extension ObjectReader {
    /// Parses `.BTF` (lazily: only the offset index is built now) and `.BTF.ext`.
    mutating func readBTF() throws(BPFObjectError) {
        guard let section = elf.section(named: ".BTF") else { return }
        let btfBytes = try contents(of: section)
        let btf: BTFSpec
        do {
            btf = try BTFSpec(bytes: btfBytes)
        } catch {
            throw .btf(error)
        }
        types = btf
        spec.types = btf
        guard let extSection = elf.section(named: ".BTF.ext") else { return }
        let extBytes = try contents(of: extSection)
        do {
            ext = try BTFExtSections(bytes: extBytes, spec: btf)
        } catch {
            throw .btfExt(error)
        }
    }

    /// The `.BTF.ext` records of the code section `name`.
    mutating func extRecords(ofSection name: String) -> ExtRecords {
        guard let ext else { return ExtRecords() }
        let names = ext.names
        if extCursor < names.count, names[extCursor] == name {
            defer { extCursor += 1 }
            return ExtRecords(ext.records(ofSection: extCursor))
        }
        if extIndex == nil {
            var index = [String: Int](minimumCapacity: names.count)
            for (position, sectionName) in names.enumerated() { index[sectionName] = position }
            extIndex = index
        }
        guard let found = extIndex?[name] else { return ExtRecords() }
        extCursor = found + 1
        return ExtRecords(ext.records(ofSection: found))
    }

    /// The `DATASEC` named `name`, if the object's BTF has one.
    func dataSection(named name: String) throws(BPFObjectError) -> BTFDataSection? {
        guard let types, let id = types.typeID(named: name, kind: .dataSection) else { return nil }
        guard case .dataSection(let section) = try btfType(id) else { return nil }
        return section
    }

    func btfType(_ id: BTFTypeID) throws(BPFObjectError) -> BTFType {
        guard let types else { throw .missingBTF(section: ".BTF") }
        do {
            return try types.type(id)
        } catch {
            throw .btf(error)
        }
    }

    /// The type `id` names once typedefs, qualifiers and type tags are skipped.
    func resolvedType(_ id: BTFTypeID) throws(BPFObjectError) -> (id: BTFTypeID, type: BTFType) {
        guard let types else { throw .missingBTF(section: ".BTF") }
        do {
            let resolved = try types.underlyingTypeID(of: id)
            return (resolved, try types.type(resolved))
        } catch {
            throw .btf(error)
        }
    }

    func btfSize(_ id: BTFTypeID) throws(BPFObjectError) -> UInt64? {
        guard let types else { throw .missingBTF(section: ".BTF") }
        do {
            return try types.size(of: id)
        } catch {
            throw .btf(error)
        }
    }

    /// The alignment libbpf gives a type (`btf__align_of`): an integer's or float's size up to 8, a
    /// pointer's 8, an array's element's, a struct's widest member's. Hostile BTF can nest structs
    /// so that a walk visits exponentially many members; past a budget the answer is 8, the widest
    /// alignment there is.
    func btfAlignment(_ id: BTFTypeID) throws(BPFObjectError) -> UInt64 {
        var budget = 4096
        return try btfAlignment(id, budget: &budget)
    }

    private func btfAlignment(_ id: BTFTypeID, budget: inout Int) throws(BPFObjectError) -> UInt64 {
        budget -= 1
        guard budget > 0 else { return 8 }
        let (_, type) = try resolvedType(id)
        switch type {
        case .int(let t): return UInt64(min(max(t.size, 1), 8))
        case .float(let t): return UInt64(min(max(t.size, 1), 8))
        case .enum(let t), .enum64(let t): return UInt64(min(max(t.size, 1), 8))
        case .pointer: return 8
        case .array(let t): return try btfAlignment(t.elementType, budget: &budget)
        case .struct(let t), .union(let t):
            var widest: UInt64 = 1
            for member in t.members {
                widest = max(widest, try btfAlignment(member.type, budget: &budget))
                if budget <= 0 { return 8 }
            }
            return widest
        default: return 1
        }
    }
}
