// EBPFBTF: the BPF Type Format.
