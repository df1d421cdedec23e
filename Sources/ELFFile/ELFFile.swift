// EBPFELFFile: a strict, generic ELF64 reader.
