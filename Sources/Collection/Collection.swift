// EBPFCollection: specs and kernel objects.
