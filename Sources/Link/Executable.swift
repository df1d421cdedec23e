import EBPFELFFile
import Glibc

/// An ELF executable or shared library to place uprobes in: resolves function (and data) symbols
/// to the file offsets the kernel expects, for probes and USDT semaphores.
///
/// Looks in the static symbol table (`.symtab`) and the dynamic one (`.dynsym`), so stripped
/// shared libraries work too. A symbol's address becomes a file offset through the `PT_LOAD`
/// segment that contains it.
///
/// ```swift
/// let libc = try Executable(path: "/lib/x86_64-linux-gnu/libc.so.6")
/// let offset = try libc.offset(of: "malloc")
/// ```
public struct Executable: Sendable {
    /// The absolute path (symbolic links resolved), as given to the kernel.
    public let path: String
    private let symbolAddresses: [String: UInt64]
    let segments: [LoadSegment]

    /// The part of a `PT_LOAD` segment that address-to-offset translation needs.
    struct LoadSegment: Sendable, Hashable {
        var virtualAddress: UInt64
        var offset: UInt64
        var fileSize: UInt64
    }

    /// Reads the symbols of the binary at `path`.
    public init(path: String) throws(LinkError) {
        guard let resolved = realpath(path, nil) else {
            throw .unreadableBinary(path: path, error: .cannotRead(path: path, operation: "realpath", errno: errno))
        }
        self.path = String(cString: resolved)
        free(resolved)
        let file: ELFFile
        do {
            file = try ELFFile(path: self.path)
        } catch {
            throw .unreadableBinary(path: self.path, error: error)
        }
        var addresses: [String: UInt64] = [:]
        do {
            // .symtab first: it names local functions too; .dynsym fills in what a stripped file lacks.
            for symbol in try file.symbols() + file.dynamicSymbols()
            where Executable.locatableKinds.contains(symbol.kind) && !symbol.isUndefined && symbol.value != 0
                && !symbol.name.isEmpty && addresses[symbol.name] == nil
            {
                addresses[symbol.name] = symbol.value
            }
        } catch {
            throw .unreadableBinary(path: self.path, error: error)
        }
        symbolAddresses = addresses
        segments = file.programHeaders.filter { $0.type == .load }.map {
            LoadSegment(virtualAddress: $0.virtualAddress, offset: $0.offset, fileSize: $0.fileSize)
        }
    }

    /// Functions (`STT_FUNC`), indirect functions (`STT_GNU_IFUNC`) and data (`STT_OBJECT`, for
    /// semaphores).
    static let locatableKinds: Set<ELFSymbolKind> = [.function, .object, ELFSymbolKind(rawValue: 10)]

    /// The address of `symbol` as the file states it (`st_value`).
    public func address(of symbol: String) throws(LinkError) -> UInt64 {
        guard let address = symbolAddresses[symbol] else { throw .binarySymbolNotFound(symbol: symbol, path: path) }
        return address
    }

    /// The file offset of `symbol`: where a uprobe on a function goes, or a semaphore's
    /// ``ProbeOptions/referenceCounterOffset``.
    public func offset(of symbol: String) throws(LinkError) -> UInt64 {
        let address = try address(of: symbol)
        guard let offset = Executable.fileOffset(ofAddress: address, in: segments) else {
            throw .symbolNotInLoadableSegment(symbol: symbol, path: path, address: address)
        }
        return offset
    }

    /// Translates a virtual address to a file offset through the `PT_LOAD` segment holding it.
    static func fileOffset(ofAddress address: UInt64, in segments: [LoadSegment]) -> UInt64? {
        for segment in segments {
            let (end, overflow) = segment.virtualAddress.addingReportingOverflow(segment.fileSize)
            guard !overflow, address >= segment.virtualAddress, address < end else { continue }
            let (offset, offsetOverflow) = (address - segment.virtualAddress).addingReportingOverflow(segment.offset)
            return offsetOverflow ? nil : offset
        }
        return nil
    }
}
