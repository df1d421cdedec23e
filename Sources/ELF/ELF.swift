// EBPFELF: the BPF object reader.
