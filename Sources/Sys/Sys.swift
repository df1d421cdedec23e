// EBPFSys: the bpf(2) choke point, owning file descriptors and errno-based errors.
