import EBPFSys

// What procfs adds to a map's info: its frozen state and the memory it is charged.

extension Map {
    /// Whether the map was frozen (``freeze()``): no more writes from user space. Read from
    /// fdinfo; nil when procfs does not say (before Linux 5.2).
    public func isFrozen() throws(MapError) -> Bool? {
        try withRawDescriptor(.info) { (raw: UInt32) -> Bool? in
            Sys.descriptorInfo(descriptorValue: Int32(bitPattern: raw))?["frozen"].flatMap { Int($0) }.map { $0 != 0 }
        }
    }

    /// The bytes of memory the kernel charges the map to its creator (fdinfo's `memlock`, what
    /// bpftool prints as `bytes_memlock`); nil when procfs does not say.
    public func memoryLockedBytes() throws(MapError) -> UInt64? {
        try withRawDescriptor(.info) { (raw: UInt32) -> UInt64? in
            Sys.descriptorInfo(descriptorValue: Int32(bitPattern: raw))?["memlock"].flatMap { UInt64($0) }
        }
    }
}
