// The protocol the `BPF_LINK_CREATE` attribute structs share. `BPF_LINK_CREATE` has a union of
// per-attach-kind members after its first 16 bytes; the generator writes one struct per member
// (Generated/LinkAttributes.swift), and ``Sys/linkCreate(_:)`` takes any of them.

/// The attributes of `BPF_LINK_CREATE` in one of its shapes. All share the first four fields.
public protocol LinkCreateAttributes: BitwiseCopyable, Sendable {}
