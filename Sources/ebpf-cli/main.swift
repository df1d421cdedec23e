import EBPF
print("ebpf")
