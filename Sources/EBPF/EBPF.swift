// The one import a user of swift-ebpf needs: `import EBPF` brings in every public module.
@_exported import EBPFASM
@_exported import EBPFBTF
@_exported import EBPFCollection
@_exported import EBPFELF
@_exported import EBPFELFFile
@_exported import EBPFLink
@_exported import EBPFNetlink
@_exported import EBPFReaders
@_exported import EBPFSys

/// Facts about this build of swift-ebpf.
public enum SwiftEBPF {
    /// The library's version, following semantic versioning.
    public static let version = "0.1.0"
}
