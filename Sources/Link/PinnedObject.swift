import EBPFCollection
import EBPFSys
import Glibc

/// An object pinned on a BPF file system, opened with its kind detected: a program, a map or a
/// link.
///
/// ```swift
/// switch try PinnedObject(path: "/sys/fs/bpf/counter") {
/// case .map(let map): print(try map.info().name)
/// case .program(let program): print(program.name)
/// case .link(let link): print(try link.describe().type)
/// }
/// ```
public enum PinnedObject: Sendable {
    case program(Program)
    case map(Map)
    case link(RawLink)

    /// Opens the object pinned at `path`.
    /// - Throws: ``PinError`` when the path holds no pin, or a pin of a kind this library does
    ///   not open (the descriptor is closed again).
    public init(path: String) throws(PinError) {
        let descriptor: FileDescriptor
        do {
            descriptor = try Sys.openPinned(at: path)
        } catch {
            throw .open(path: path, error: error)
        }
        switch Sys.objectKind(descriptorValue: descriptor.rawValue) {
        case .program:
            do { self = .program(try Program(adopting: descriptor)) } catch { throw .program(path: path, error: error) }
        case .map:
            do { self = .map(try Map(adopting: descriptor)) } catch { throw .map(path: path, error: error) }
        case .link:
            self = .link(RawLink(adopting: descriptor))
        case .btf, nil:
            throw .unknownKind(path: path)
        }
    }

    /// The kind of object.
    public var kind: BPFObjectKind {
        switch self {
        case .program: .program
        case .map: .map
        case .link: .link
        }
    }

    /// Closes the object's descriptor (the pin stays).
    public func close() {
        switch self {
        case .program(let program): _ = try? program.close()
        case .map(let map): _ = try? map.close()
        case .link(let link): _ = try? link.close()
        }
    }

    /// One entry found by ``walk(directory:)``.
    public struct Entry: Sendable, Hashable {
        public var path: String
        /// The kind of object pinned there; nil when it could not be opened (see ``problem``).
        public var kind: BPFObjectKind?
        /// The kernel-wide ID of the object.
        public var id: UInt32?
        /// Why the pin could not be read, for a pin this process may not open or of an unknown kind.
        public var problem: String?
    }

    /// Every pin below `directory` (descending into subdirectories), sorted by path. Pins that
    /// cannot be opened are listed with the reason rather than failing the walk.
    /// - Throws: ``PinError/unreadableDirectory(path:errno:)`` when `directory` itself cannot be read.
    public static func walk(directory: String) throws(PinError) -> [Entry] {
        var entries: [Entry] = []
        var pending = [directory]
        var first = true
        while let current = pending.popLast() {
            guard let handle = opendir(current) else {
                if first { throw .unreadableDirectory(path: directory, errno: Errno(rawValue: errno)) }
                entries.append(Entry(path: current, kind: nil, id: nil, problem: "cannot read directory: \(Errno(rawValue: errno))"))
                continue
            }
            first = false
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard name != ".", name != ".." else { continue }
                let path = current.hasSuffix("/") ? current + name : current + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) {
                    pending.append(path)
                    continue
                }
                entries.append(describe(path))
            }
        }
        return entries.sorted { $0.path < $1.path }
    }

    private static func describe(_ path: String) -> Entry {
        let descriptor: FileDescriptor
        do {
            descriptor = try Sys.openPinned(at: path)
        } catch {
            return Entry(path: path, kind: nil, id: nil, problem: error.description)
        }
        guard let kind = Sys.objectKind(descriptorValue: descriptor.rawValue) else {
            return Entry(path: path, kind: nil, id: nil, problem: "not a program, map or link")
        }
        let id: UInt32?
        switch kind {
        case .program: id = try? Sys.objectInfo(of: descriptor, as: ProgInfo.self).id
        case .map: id = try? Sys.objectInfo(of: descriptor, as: MapInfo.self).id
        case .link: id = try? Sys.objectInfo(of: descriptor, as: LinkInfo.self).id
        case .btf: id = try? Sys.objectInfo(of: descriptor, as: BTFInfo.self).id
        }
        return Entry(path: path, kind: kind, id: id, problem: nil)
    }
}

/// Why a pin could not be opened.
public enum PinError: Error, Sendable, CustomStringConvertible {
    case open(path: String, error: BPFSyscallError)
    case program(path: String, error: ProgramError)
    case map(path: String, error: MapError)
    /// The pin holds an object that is not a program, map or link.
    case unknownKind(path: String)
    case unreadableDirectory(path: String, errno: Errno)

    public var description: String {
        switch self {
        case .open(let path, let error): "open pin \(path): \(error)"
        case .program(let path, let error): "open pinned program \(path): \(error)"
        case .map(let path, let error): "open pinned map \(path): \(error)"
        case .unknownKind(let path): "pin \(path) holds no program, map or link"
        case .unreadableDirectory(let path, let errno): "read directory \(path): \(errno)"
        }
    }
}
