// EBPFLink: attaching programs.
