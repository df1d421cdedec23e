// EBPFASM: eBPF instructions, encoding, a builder and a disassembler.
