import EBPFBTF

/// A global variable in one of an object's data sections.
///
/// The value itself lives in the data-section map's ``MapSpec/contents``; read and change it
/// through the ``CollectionSpec`` (``CollectionSpec/value(ofVariable:)``,
/// ``CollectionSpec/setVariable(_:to:)-(_,[UInt8])``), which checks the size.
///
/// ```swift
/// var spec = try CollectionSpec(elfFile: "filter.bpf.o")
/// try spec.setVariable("target_pid", to: UInt32(1234))
/// ```
public struct VariableSpec: Sendable, Hashable {
    public var name: String
    /// The data-section map that holds the variable (`.data`, `.rodata`, `.bss`, `.data.foo`).
    public var mapName: String
    /// Byte offset of the variable within that map's value.
    public var offset: UInt32
    public var size: UInt32
    /// Whether programs see the variable as constant (`.rodata` and other frozen sections).
    ///
    /// This is about programs, not about you: a read-only variable can still be set before the
    /// collection is loaded, which is how `volatile const` configuration is passed in.
    public var isReadOnly: Bool
    /// The BTF type id of the variable's type in the object's BTF, or nil when the object has no
    /// BTF for it.
    public var typeID: BTFTypeID?

    public init(name: String, mapName: String, offset: UInt32, size: UInt32, isReadOnly: Bool, typeID: BTFTypeID? = nil) {
        self.name = name
        self.mapName = mapName
        self.offset = offset
        self.size = size
        self.isReadOnly = isReadOnly
        self.typeID = typeID
    }
}

/// Why a variable cannot be read or set. Each case names the variable.
public enum VariableError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The spec has no variable of this name.
    case unknownVariable(String)
    /// The variable's map is missing from the spec, or has no single value to hold it.
    case missingMapContents(variable: String, map: String)
    /// The variable does not lie inside its map's value.
    case outOfBounds(variable: String, map: String, offset: UInt32, size: UInt32, valueSize: Int)
    /// The new value has a different size from the variable.
    case sizeMismatch(variable: String, size: UInt32, given: Int)

    public var description: String {
        switch self {
        case .unknownVariable(let name):
            "variable '\(name)': no such variable"
        case .missingMapContents(let variable, let map):
            "variable '\(variable)': map '\(map)' is missing or has no value"
        case .outOfBounds(let variable, let map, let offset, let size, let valueSize):
            "variable '\(variable)': bytes \(offset)..<\(UInt64(offset) + UInt64(size)) outside map '\(map)' of \(valueSize) bytes"
        case .sizeMismatch(let variable, let size, let given):
            "variable '\(variable)': is \(size) bytes, given \(given)"
        }
    }
}
