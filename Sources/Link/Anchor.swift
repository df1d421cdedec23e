import EBPFCollection
import EBPFSys

/// Where a program goes in the ordered list of a multi-program attach point (tcx, netkit): at the
/// head or tail, or just before or after a program or link already there, named by object or by
/// kernel id. The kernel's `BPF_F_BEFORE`, `BPF_F_AFTER`, `BPF_F_ID` and `BPF_F_LINK` with
/// `relative_fd`/`relative_id`. Requires Linux 6.6.
///
/// ```swift
/// let first = try TCX.attach(program: counter, interfaceName: "eth0", attachType: .tcxIngress)
/// let second = try TCX.attach(program: filter, interfaceName: "eth0", attachType: .tcxIngress,
///                             anchor: .beforeLink(first))
/// ```
public enum Anchor: Sendable {
    /// After everything attached (the kernel's default without flags).
    case tail
    /// Before everything attached (`BPF_F_BEFORE` without a relative object).
    case head
    /// Just before `program`.
    case beforeProgram(Program)
    /// Just after `program`.
    case afterProgram(Program)
    /// Just before the program of `link`.
    case beforeLink(RawLink)
    /// Just after the program of `link`.
    case afterLink(RawLink)
    /// Just before the program with kernel id.
    case beforeProgramID(UInt32)
    /// Just after the program with kernel id.
    case afterProgramID(UInt32)
    /// Just before the link with kernel id.
    case beforeLinkID(UInt32)
    /// Just after the link with kernel id.
    case afterLinkID(UInt32)

    /// `BPF_F_BEFORE`.
    static let beforeFlag: UInt32 = 1 << 3
    /// `BPF_F_AFTER`.
    static let afterFlag: UInt32 = 1 << 4
    /// `BPF_F_ID`: the relative object is given by id, not descriptor.
    static let idFlag: UInt32 = 1 << 5
    /// `BPF_F_LINK`: the relative object is a link, not a program.
    static let linkFlag: UInt32 = 1 << 13

    /// Runs `body` with the attach flags and the `relative_fd`/`relative_id` value for this
    /// anchor; a relative object's descriptor stays open until `body` returns.
    func withRelative<Result>(
        hook: String, _ body: (_ flags: UInt32, _ relative: UInt32) throws(LinkError) -> Result
    ) throws(LinkError) -> Result {
        switch self {
        case .tail: return try body(0, 0)
        case .head: return try body(Self.beforeFlag, 0)
        case .beforeProgramID(let id): return try body(Self.beforeFlag | Self.idFlag, id)
        case .afterProgramID(let id): return try body(Self.afterFlag | Self.idFlag, id)
        case .beforeLinkID(let id): return try body(Self.beforeFlag | Self.idFlag | Self.linkFlag, id)
        case .afterLinkID(let id): return try body(Self.afterFlag | Self.idFlag | Self.linkFlag, id)
        case .beforeProgram(let program), .afterProgram(let program):
            let position = isBefore ? Self.beforeFlag : Self.afterFlag
            let outcome = try program.withFileDescriptorValue { (number) throws(LinkError) -> Result in
                try body(position, UInt32(bitPattern: number))
            }
            guard let outcome else { throw .programClosed(program: program.name, hook: "anchor of \(hook)") }
            return outcome
        case .beforeLink(let link), .afterLink(let link):
            let position = (isBefore ? Self.beforeFlag : Self.afterFlag) | Self.linkFlag
            let outcome = try link.withDescriptor { (fd: borrowing FileDescriptor) throws(LinkError) -> Result in
                try body(position, UInt32(bitPattern: fd.rawValue))
            }
            guard let outcome else { throw .invalidOption("the anchor link of \(hook) is closed") }
            return outcome
        }
    }

    private var isBefore: Bool {
        switch self {
        case .head, .beforeProgram, .beforeLink, .beforeProgramID, .beforeLinkID: true
        default: false
        }
    }
}
