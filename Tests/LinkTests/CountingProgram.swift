import EBPFASM
import EBPFCollection
import EBPFSys
import Glibc

/// A one-slot array map and a program that adds 1 to it each time it runs, optionally only for
/// one process: the tests' way of seeing that an attached program really runs, and how often.
struct Counter: ~Copyable {
    let map: FileDescriptor
    let program: Program

    /// Loads the counting program as `type`; with `process`, it counts only that thread group.
    /// With `addingCookie` it adds the attach cookie (`bpf_get_attach_cookie`) instead of 1.
    init(
        type: ProgramType, expectedAttachType: AttachType? = nil, onlyProcess process: Int32? = nil,
        onlyThread thread: Int32? = nil, contextWord: (offset: Int16, value: Int32)? = nil, addingCookie: Bool = false,
        attachBTFID: UInt32? = nil, returning returnValue: Int32 = 0
    ) throws {
        let map = try Sys.createMap(type: 2, keySize: 4, valueSize: 8, maxEntries: 1)
        var builder = ProgramBuilder()
        builder.append(.mov64(.r6, .r1))
        builder.append(.mov64(.r7, 1))
        if addingCookie {
            builder.append(.callHelper(174))  // bpf_get_attach_cookie(ctx)
            builder.append(.mov64(.r7, .r0))
        }
        builder.append(.mov64(.r1, .r6))
        if let process {
            builder.append(.callHelper(14))  // bpf_get_current_pid_tgid
            builder.append(.rsh64(.r0, 32))
            builder.append(.jumpIf(.r0, .notEqual, process, label: "out"))
        }
        if let thread {
            builder.append(.callHelper(14))
            builder.append(.mov32(.r0, .r0))  // the low half: the thread id
            builder.append(.jumpIf(.r0, .notEqual, thread, label: "out"))
        }
        if let contextWord {
            builder.append(.load(.r0, from: .r6, offset: contextWord.offset, size: .doubleWord))
            builder.append(.jumpIf(.r0, .notEqual, contextWord.value, label: "out"))
        }
        builder.append(contentsOf: [
            .store(0, to: .r10, offset: -4, size: .word),
            .mov64(.r2, .r10),
            .add64(.r2, -4),
            .loadMapPointer(.r1, fileDescriptor: map.rawValue),
            .callHelper(1),  // bpf_map_lookup_elem
            .jumpIf(.r0, .equal, 0, label: "out"),
            .atomic(.add, .r7, on: .r0, size: .doubleWord),
        ])
        builder.label("out")
        builder.append(contentsOf: [.mov64(.r0, returnValue), .exit()])
        let bytes = try builder.build().encoded(byteOrder: .host)
        let program: Program
        if let attachBTFID {
            program = try Self.load(
                type: type, expectedAttachType: expectedAttachType, attachBTFID: attachBTFID, instructions: bytes)
        } else {
            program = try Program(
                adopting: Sys.loadProgram(
                    type: type.rawValue, instructions: bytes, license: "GPL",
                    expectedAttachType: expectedAttachType?.rawValue ?? 0
                ).takeDescriptor())
        }
        self.map = map
        self.program = program
    }

    /// Loads a program that targets a kernel BTF type (tp_btf, LSM, iterators).
    private static func load(
        type: ProgramType, expectedAttachType: AttachType?, attachBTFID: UInt32, instructions: [UInt8]
    ) throws -> Program {
        var attributes = ProgLoadAttr()
        attributes.progType = type.rawValue
        attributes.expectedAttachType = expectedAttachType?.rawValue ?? 0
        attributes.attachBTFID = attachBTFID
        attributes.insnCnt = UInt32(instructions.count / 8)
        let license = Array("GPL".utf8) + [0]
        let loaded = try instructions.withUnsafeBytes { code in
            try license.withUnsafeBytes { licenseBytes in
                attributes.insns = Sys.address(of: code.baseAddress)
                attributes.license = Sys.address(of: licenseBytes.baseAddress)
                return try Sys.progLoad(attributes).takeDescriptor().relinquish()
            }
        }
        return try Program(adopting: FileDescriptor(adopting: loaded))
    }

    /// How often the program ran.
    func count() throws -> UInt64 {
        let bytes = try Sys.lookupElement(map: map, key: [0, 0, 0, 0], valueSize: 8)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// A trivial program (`r0 = 0; exit`) of `type`.
func trivialProgram(type: ProgramType, expectedAttachType: AttachType? = nil) throws -> Program {
    let spec = ProgramSpec(
        name: "trivial", type: type, attachType: expectedAttachType, instructions: [.mov64(.r0, 0), .exit()])
    return try Program(spec: spec)
}
