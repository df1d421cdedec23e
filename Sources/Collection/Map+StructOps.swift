import EBPFSys

/// The value a struct_ops map without ``MapFlags/link`` registers its operations table with,
/// prepared by the loader and kept with the map until the table is attached
/// (`StructOps.attach(map:)` in EBPFLink).
///
/// For such a map, writing element 0 is the registration itself, and nothing undoes it when the
/// map's descriptor closes: the kernel holds on to the map while it is registered. So the load
/// only prepares the value, as libbpf does, and the attach writes it and hands back something
/// that deletes element 0 (unregisters) when closed.
struct PreparedStructOpsValue: Sendable {
    /// One function-pointer member of the table, set to a program.
    struct Slot: Sendable {
        /// The member's name in the table.
        let member: String
        /// Where in ``PreparedStructOpsValue/bytes`` the program's descriptor goes (8 bytes).
        let valueOffset: Int
        /// A program of its own (a clone of the loaded one): the load's program may be closed
        /// before the attach (by ``LoadedCollection/close()`` or by a ``CollectionObjects`` type
        /// that did not ask for it), and the registration needs it open.
        let program: Program
    }

    /// The value in the kernel's layout (the `bpf_struct_ops_<table>` wrapper), each slot zero.
    let bytes: [UInt8]
    let slots: [Slot]
}

/// Why a prepared struct_ops value could not be written.
package enum PreparedStructOpsWriteError: Error, Sendable {
    /// The map holds no prepared value: it was not created by a collection load (opened by id,
    /// from a pin, a replacement) or it is closed.
    case notPrepared
    /// The program for `member` was closed.
    case programClosed(program: String, member: String)
    /// `BPF_MAP_UPDATE_ELEM` failed.
    case map(MapError)
}

extension Map {
    /// Keeps `value` for a later registration (the loader's, for struct_ops maps without
    /// ``MapFlags/link``).
    func prepareStructOpsValue(_ value: PreparedStructOpsValue) {
        preparedStructOps.withLock { $0 = value }
    }

    /// Whether the loader left a struct_ops value with this map for registration.
    package var hasPreparedStructOpsValue: Bool {
        preparedStructOps.withLock { $0 != nil }
    }

    /// Writes the prepared value to element 0, each program's descriptor in its slot: for a
    /// struct_ops map without ``MapFlags/link`` this registers the table with the kernel. The
    /// programs' descriptors stay open until the write returns.
    package func writePreparedStructOpsValue() throws(PreparedStructOpsWriteError) {
        guard let prepared = preparedStructOps.withLock({ $0 }) else { throw .notPrepared }
        var bytes = prepared.bytes
        try writeStructOps(prepared.slots[...], into: &bytes)
    }

    /// Fills the first of `slots` with its program's descriptor while borrowing it, then the rest,
    /// and writes the value once all are filled.
    private func writeStructOps(
        _ slots: ArraySlice<PreparedStructOpsValue.Slot>, into bytes: inout [UInt8]
    ) throws(PreparedStructOpsWriteError) {
        guard let slot = slots.first else {
            do throws(MapError) {
                try update(keyBytes: [UInt8](repeating: 0, count: Int(keySize)), valueBytes: bytes)
            } catch {
                throw .map(error)
            }
            return
        }
        let written: Void? = try slot.program.withFileDescriptorValue { (number) throws(PreparedStructOpsWriteError) in
            StructOpsLayout.store(descriptor: number, at: slot.valueOffset, in: &bytes)
            try writeStructOps(slots.dropFirst(), into: &bytes)
        }
        if written == nil { throw .programClosed(program: slot.program.name, member: slot.member) }
    }
}
