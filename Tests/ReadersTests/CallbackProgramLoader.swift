import EBPFASM
import EBPFCollection
import EBPFSys

struct CallbackLoadFailed: Error, CustomStringConvertible {
    var description: String
}

/// Loads a socket filter whose subprogram `callback` a helper calls back (such as
/// `bpf_user_ringbuf_drain`). The kernel wants BTF `func_info` for programs with callbacks, and
/// `Program(spec:)` loads without BTF until the loader brings it, so this builds the smallest BTF
/// that does: `int main(void *)` and `int callback(void *, void *)`, both static.
func loadProgramWithCallback(name: String, instructions: [Instruction], callback: String) throws -> Program {
    var callbackSlot: UInt32?
    var slot = 0
    for instruction in instructions {
        if instruction.symbol == callback { callbackSlot = UInt32(slot) }
        slot += instruction.slotCount
    }
    guard let callbackSlot else { throw CallbackLoadFailed(description: "no subprogram \(callback)") }

    var btf = BTFBlob()
    let int = btf.add(kind: 1, vlen: 0, sizeOrType: 4, extra: [(1 << 24) | 32])  // int, signed, 32 bits
    let pointer = btf.add(kind: 2, vlen: 0, sizeOrType: 0)  // void *
    let context = btf.addString("ctx")
    let record = btf.addString("record")
    let oneArgument = btf.add(kind: 13, vlen: 1, sizeOrType: int, extra: [context, pointer])
    let twoArguments = btf.add(kind: 13, vlen: 2, sizeOrType: int, extra: [record, pointer, context, pointer])
    let mainFunction = btf.add(kind: 12, vlen: 0, sizeOrType: oneArgument, name: "main_fn")
    let callbackFunction = btf.add(kind: 12, vlen: 0, sizeOrType: twoArguments, name: "callback_fn")
    let blob = btf.bytes()

    var btfAttributes = BTFLoadAttr()
    let rawBTF = try blob.withUnsafeBytes { bytes throws -> Int32 in
        btfAttributes.btf = Sys.address(of: bytes.baseAddress)
        btfAttributes.btfSize = UInt32(bytes.count)
        return try Sys.btfLoad(btfAttributes).relinquish()
    }
    let btfDescriptor = try FileDescriptor(adopting: rawBTF)
    let code = try instructions.encoded(byteOrder: .host)
    let funcInfo: [UInt32] = [0, mainFunction, callbackSlot, callbackFunction]
    let license = Array("GPL".utf8CString)
    var attributes = ProgLoadAttr()
    attributes.progType = ProgramType.socketFilter.rawValue
    attributes.insnCnt = UInt32(code.count / 8)
    attributes.progBTFFD = UInt32(bitPattern: btfDescriptor.rawValue)
    attributes.funcInfoRecSize = 8
    attributes.funcInfoCnt = 2
    attributes.progName = try BPFObjectName(name)
    let loaded = try code.withUnsafeBytes { codeBytes throws -> Int32 in
        try funcInfo.withUnsafeBytes { infoBytes throws -> Int32 in
            try license.withUnsafeBytes { licenseBytes throws -> Int32 in
                attributes.insns = Sys.address(of: codeBytes.baseAddress)
                attributes.funcInfo = Sys.address(of: infoBytes.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                let program = try Sys.progLoad(attributes)
                return try program.descriptor.duplicate().relinquish()
            }
        }
    }
    return try Program(adopting: try FileDescriptor(adopting: loaded))
}

/// Raw BTF in the host's byte order, built type by type.
struct BTFBlob {
    private var types: [UInt32] = []
    private var strings: [UInt8] = [0]
    private var nextID: UInt32 = 1

    mutating func addString(_ string: String) -> UInt32 {
        defer { strings += Array(string.utf8) + [0] }
        return UInt32(strings.count)
    }

    mutating func add(kind: UInt32, vlen: UInt32, sizeOrType: UInt32, extra: [UInt32] = [], name: String = "") -> UInt32 {
        var nameOffset: UInt32 = 0
        if !name.isEmpty {
            nameOffset = addString(name)
        }
        types += [nameOffset, kind << 24 | vlen, sizeOrType] + extra
        defer { nextID += 1 }
        return nextID
    }

    func bytes() -> [UInt8] {
        var header: [UInt8] = []
        func append32(_ value: UInt32) { withUnsafeBytes(of: value) { header += $0 } }
        withUnsafeBytes(of: UInt16(0xeb9f)) { header += $0 }
        header += [1, 0]  // version, flags
        append32(24)  // header length
        append32(0)  // type offset
        append32(UInt32(types.count * 4))
        append32(UInt32(types.count * 4))  // string offset
        append32(UInt32(strings.count))
        return header + types.withUnsafeBytes { Array($0) } + strings
    }
}
