import Glibc
import Testing
import TestSupport

@testable import EBPFBTF

/// Swift declarations from `BTFSpec.swiftDeclarations(of:)` compiled with swiftc, against the
/// same types compiled from C with clang for the host: the same size, alignment and member
/// offsets, and the same member values (bitfields and union members included) read from the same
/// bytes.
@Suite("Swift declarations", .checksFileDescriptorLeaks, .serialized)
struct SwiftDeclarationPrinterTests {
    static let vmlinuxTypes = [
        "sock_common", "iphdr", "tcphdr", "ethhdr", "bpf_sock_tuple", "__sk_buff", "in6_addr", "xdp_md",
        "perf_event_attr", "bpf_attr", "pt_regs", "bpf_map_info", "sk_msg_md", "bpf_spin_lock",
        "bpf_perf_event_value", "ipv6hdr", "udphdr", "bpf_cpumask", "file_ra_state", "hlist_node",
    ]

    /// A scalar member whose value both programs print.
    struct ScalarMember {
        var cName: String
        var swiftExpression: String
        /// Swift that stores 1 into the member, or nil when C cannot assign it (const).
        var swiftAssignment: String?
        var cAssignment: String?
    }

    struct Case {
        var cType: String
        var swiftType: String
        var members: [String]
        var scalars: [ScalarMember]
    }

    static func cases(_ spec: BTFSpec, names: [String]) throws -> [Case] {
        let printer = try SwiftDeclarationPrinter(spec: spec)
        var result: [Case] = []
        for name in names {
            let id = try #require(
                spec.typeID(named: name, kind: .struct) ?? spec.typeID(named: name, kind: .union), "\(name) exists")
            let type = try spec.type(id)
            guard case .struct(let composite) = type, true else {
                guard case .union(let composite) = type else { continue }
                result.append(try makeCase(spec, printer, id, composite, keyword: "union"))
                continue
            }
            result.append(try makeCase(spec, printer, id, composite, keyword: "struct"))
        }
        return result
    }

    static func makeCase(
        _ spec: BTFSpec, _ printer: SwiftDeclarationPrinter, _ id: BTFTypeID, _ composite: BTFComposite, keyword: String
    ) throws -> Case {
        let swiftType = try printer.swiftType(for: id)
        var members: [String] = []
        var scalars: [ScalarMember] = []
        // Members of anonymous struct and union members count too: C and Swift both name them
        // directly. Only direct members have offsets to compare.
        var pending: [(member: BTFMember, direct: Bool)] = composite.members.map { ($0, true) }
        var seen: Set<String> = []
        while !pending.isEmpty {
            let (member, direct) = pending.removeFirst()
            if member.name.isEmpty {
                if member.bitfieldSize == 0, case .struct(let inner)? = try? spec.type(try spec.underlyingTypeID(of: member.type)) {
                    pending += inner.members.map { ($0, false) }
                } else if member.bitfieldSize == 0, case .union(let inner)? = try? spec.type(try spec.underlyingTypeID(of: member.type)) {
                    pending += inner.members.map { ($0, false) }
                }
                continue
            }
            guard !member.name.hasPrefix("_pad"), seen.insert(member.name).inserted else { continue }
            let swiftName = SwiftIdentifiers.escaped(SwiftIdentifiers.sanitized(member.name))
            let isBitfield = member.bitfieldSize != 0
            if direct, !isBitfield, try printer.size(of: member.type) > 0 { members.append(member.name) }
            let assignable = try !isConst(spec, member.type)
            let plain = "value.\(swiftName)"
            switch try spec.type(try spec.underlyingTypeID(of: member.type)) {
            case .int(let integer) where !integer.encoding.contains(.bool) && integer.size <= 8:
                scalars.append(
                    ScalarMember(
                        cName: member.name, swiftExpression: plain, swiftAssignment: assignable ? "\(plain) = 1" : nil,
                        cAssignment: assignable ? "value.\(member.name) = 1" : nil))
            case .enum, .enum64:
                let swiftType = try printer.swiftType(for: member.type)
                scalars.append(
                    ScalarMember(
                        cName: member.name, swiftExpression: isBitfield ? plain : "\(plain).rawValue",
                        swiftAssignment: assignable ? (isBitfield ? "\(plain) = 1" : "\(plain) = \(swiftType)(rawValue: 1)") : nil,
                        cAssignment: assignable ? "value.\(member.name) = 1" : nil))
            case .pointer:
                scalars.append(
                    ScalarMember(
                        cName: member.name, swiftExpression: plain, swiftAssignment: assignable ? "\(plain) = 1" : nil,
                        cAssignment: assignable ? "value.\(member.name) = (void *)1" : nil))
            default:
                break
            }
        }
        return Case(cType: "\(keyword) \(composite.name)", swiftType: swiftType, members: members, scalars: scalars)
    }

    static func isConst(_ spec: BTFSpec, _ id: BTFTypeID) throws -> Bool {
        var current = id
        for _ in 0..<64 {
            switch try spec.type(current) {
            case .const: return true
            case .typedef(let t): current = t.type
            case .volatile(let t), .restrict(let t): current = t.type
            case .typeTag(let t): current = t.type
            default: return false
            }
        }
        return false
    }

    static func cProgram(header: String, cases: [Case]) -> String {
        var text = "#include \"\(header)\"\nint printf(const char *, ...);\nint main(void) {\n"
        for (index, testCase) in cases.enumerated() {
            let t = testCase.cType
            text += "  { \(t) value; unsigned char *bytes = (unsigned char *)&value;\n"
            text += "    for (unsigned long i = 0; i < sizeof(value); i++) bytes[i] = (unsigned char)(i * 29 + 7);\n"
            text += "    printf(\"\(index) size %lu align %lu\\n\", (unsigned long)sizeof(\(t)), (unsigned long)_Alignof(\(t)));\n"
            for member in testCase.members {
                text += "    printf(\"\(index).\(member) offset %lu\\n\", (unsigned long)__builtin_offsetof(\(t), \(member)));\n"
            }
            for scalar in testCase.scalars {
                text += "    printf(\"\(index).\(scalar.cName) value %llu\\n\", (unsigned long long)(long long)value.\(scalar.cName));\n"
            }
            // Storing into each member in turn must touch exactly the bytes C touches.
            for scalar in testCase.scalars {
                guard let assignment = scalar.cAssignment else { continue }
                text += "    \(assignment);\n"
                text += "    { unsigned long long sum = 0; for (unsigned long i = 0; i < sizeof(value); i++) sum += bytes[i] * (i + 1);\n"
                text += "      printf(\"\(index).\(scalar.cName) stored %llu\\n\", sum); }\n"
            }
            text += "  }\n"
        }
        return text + "  return 0;\n}\n"
    }

    static func swiftProgram(cases: [Case]) -> String {
        var text = ""
        for (index, testCase) in cases.enumerated() {
            let t = testCase.swiftType
            text += "do {\n    var value = \(t)()\n"
            text += "    withUnsafeMutableBytes(of: &value) { bytes in for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 29 &+ 7) } }\n"
            text += "    print(\"\(index) size \\(MemoryLayout<\(t)>.size) align \\(MemoryLayout<\(t)>.alignment)\")\n"
            for member in testCase.members {
                let swiftName = SwiftIdentifiers.escaped(SwiftIdentifiers.sanitized(member))
                text += "    if let offset = MemoryLayout<\(t)>.offset(of: \\\(t).\(swiftName)) { print(\"\(index).\(member) offset \\(offset)\") }\n"
            }
            for scalar in testCase.scalars {
                text += "    print(\"\(index).\(scalar.cName) value \\(UInt64(truncatingIfNeeded: \(scalar.swiftExpression)))\")\n"
            }
            for scalar in testCase.scalars {
                guard let assignment = scalar.swiftAssignment else { continue }
                text += "    \(assignment)\n"
                text += "    print(\"\(index).\(scalar.cName) stored \\(withUnsafeBytes(of: value) { bytes in bytes.enumerated().reduce(UInt64(0)) { $0 + UInt64($1.element) * UInt64($1.offset + 1) } })\")\n"
            }
            text += "}\n"
        }
        return text
    }

    /// Compiles both programs, runs them, and compares their lines: every line Swift prints must
    /// be one C printed, and every size, alignment and value line C printed Swift must print too.
    static func compareLayouts(
        label: String, spec: BTFSpec, names: [String], cHeaderDirectory: String, cHeaderName: String
    ) throws -> (stored: Int, total: Int) {
        let cases = try cases(spec, names: names)
        let declarations = try spec.swiftDeclarations(named: names)
        let directory = PrintingSupport.path("swift-\(label)")
        try PrintingSupport.mkdirChecked(directory)
        try PrintingSupport.write(declarations, to: directory + "/Declarations.swift")
        try PrintingSupport.write(swiftProgram(cases: cases), to: directory + "/main.swift")
        try PrintingSupport.write(cProgram(header: cHeaderName, cases: cases), to: directory + "/layout.c")

        let cBinary = directory + "/layout-c"
        let cBuild = try runSubprocess(
            PrintingSupport.clang,
            ["-w", "-DBPF_NO_PRESERVE_ACCESS_INDEX", "-I", cHeaderDirectory, directory + "/layout.c", "-o", cBinary])
        try #require(cBuild.status == 0, "C layout program builds")
        let swiftBinary = directory + "/layout-swift"
        let swiftBuild = try runSubprocess(
            PrintingSupport.swiftc,
            ["-swift-version", "6", directory + "/Declarations.swift", directory + "/main.swift", "-o", swiftBinary])
        try #require(swiftBuild.status == 0, "generated Swift compiles")

        let cLines = Set(try runSubprocess(cBinary, []).text.split(separator: "\n").map(String.init))
        let swiftOutput = try runSubprocess(swiftBinary, [])
        try #require(swiftOutput.status == 0)
        let swiftLines = Set(swiftOutput.text.split(separator: "\n").map(String.init))
        #expect(cLines.count > cases.count)
        let unexpected = swiftLines.subtracting(cLines).sorted()
        #expect(unexpected.isEmpty, "\(label): Swift disagrees with C: \(unexpected.prefix(12))")
        let missing = cLines.filter { !$0.contains(" offset ") }.subtracting(swiftLines).sorted()
        #expect(missing.isEmpty, "\(label): Swift lacks: \(missing.prefix(12))")
        let stored = swiftLines.filter { $0.contains(" offset ") }.count
        return (stored, cLines.filter { $0.contains(" offset ") }.count)
    }

    @Test(
        .enabled(
            if: PrintingSupport.hasBpftool && PrintingSupport.hasVmlinux && PrintingSupport.hasSwiftc,
            PrintingSupport.bpftoolSkipReason))
    func vmlinuxTypesHaveCLayouts() throws {
        let spec = try PrintingSupport.vmlinuxSpec.get()
        let directories = try PrintingSupport.vmlinuxHeaders.get()
        let counts = try Self.compareLayouts(
            label: "vmlinux", spec: spec, names: Self.vmlinuxTypes, cHeaderDirectory: directories.ours,
            cHeaderName: "vmlinux.h")
        // Most members of these structs are stored properties, not computed ones.
        #expect(counts.stored * 2 > counts.total)
    }

    @Test(.enabled(if: PrintingSupport.hasSwiftc && PrintingSupport.hasClang, "needs the toolchain's swiftc and clang"))
    func testdataTypesHaveCLayouts() throws {
        let spec = try KernelBTF.loadELF(path: TestData.path("maps_btf-el.o"))
        let directory = PrintingSupport.path("maps_btf")
        try PrintingSupport.mkdirChecked(directory)
        try PrintingSupport.write(try spec.cHeaderBytes(), to: directory + "/maps_btf.h")
        _ = try Self.compareLayouts(
            label: "maps_btf", spec: spec, names: ["event"], cHeaderDirectory: directory, cHeaderName: "maps_btf.h")
    }

    @Test func handBuiltStructKeepsPointersArraysAndBitfields() throws {
        let spec = try BTFSpec(bytes: HandBuiltBTF.declarators())
        let text = try spec.swiftDeclarations(of: [9, 11])
        #expect(text.contains("public struct s: BitwiseCopyable, Sendable {"))
        #expect(text.contains("public var next: UInt64"))
        #expect(text.contains("public var handlers: (UInt64, UInt64, UInt64, UInt64)"))
        #expect(text.contains("public var a: UInt32 {"))
        #expect(text.contains("public typealias s_t = s"))
    }
}
