@_exported import EBPFSys
@_exported import EBPFELFFile
@_exported import EBPFASM
@_exported import EBPFBTF
@_exported import EBPFCollection
@_exported import EBPFELF
@_exported import EBPFLink
