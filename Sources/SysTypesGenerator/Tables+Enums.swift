// The kernel enums written as RawRepresentable structs: the commands in EBPFSys, the object types
// in EBPFCollection (where the rest of the library reads them).

extension SysTypesGenerator {
    static let commandEnum = EnumRecipe(
        swiftName: "BPFCommand", cName: "bpf_cmd", prefix: "BPF_", rawType: "Int32",
        doc: [
            "A command of the bpf(2) system call (the kernel's `enum bpf_cmd`).",
            "",
            "A struct over the raw number rather than an enum: newer kernels add commands, and a number this",
            "library does not name must still be representable and printable.",
        ],
        nameProperty: "name", unknownFormat: "bpf command \\(rawValue)")

    static let collectionEnums: [EnumRecipe] = [
        objectTypeEnum("MapType", cName: "bpf_map_type", prefix: "BPF_MAP_TYPE_", what: "BPF map type"),
        objectTypeEnum("ProgramType", cName: "bpf_prog_type", prefix: "BPF_PROG_TYPE_", what: "BPF program type"),
        objectTypeEnum("AttachType", cName: "bpf_attach_type", prefix: "BPF_", what: "BPF attach type"),
        objectTypeEnum("LinkType", cName: "bpf_link_type", prefix: "BPF_LINK_TYPE_", what: "BPF link type"),
    ]

    private static func objectTypeEnum(_ name: String, cName: String, prefix: String, what: String) -> EnumRecipe {
        EnumRecipe(
            swiftName: name, cName: cName, prefix: prefix, rawType: "UInt32",
            doc: [
                "A \(what): the kernel's `enum \(cName)`.",
                "",
                "A struct rather than an enum because newer kernels add values; any raw value round-trips.",
            ],
            nameProperty: "description", unknownFormat: "\(prefix)(\\(rawValue))")
    }
}
