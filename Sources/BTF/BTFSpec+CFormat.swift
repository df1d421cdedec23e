extension BTFSpec {
    /// C declarations of every type of the spec, as a header that compiles: the output of
    /// `bpftool btf dump file FILE format c`, the usual way to make `vmlinux.h`.
    ///
    /// The header has the `__VMLINUX_H__` include guard and wraps the types in the
    /// `preserve_access_index` attribute block (unless `BPF_NO_PRESERVE_ACCESS_INDEX` is defined),
    /// so that CO-RE programs relocate their field accesses. Structs are defined before they are
    /// embedded by value; types reached only through pointers are declared ahead; names used twice
    /// get a `___N` suffix; packed structs get `__attribute__((packed))`; gaps are filled with
    /// unnamed bitfields so that every member lands at its BTF offset.
    ///
    /// ```swift
    /// let header = try KernelBTF.loadVmlinux().cHeader()
    /// ```
    public func cHeader() throws(BTFError) -> String {
        String(decoding: try cHeaderBytes(), as: UTF8.self)
    }

    /// `cHeader()` as UTF-8 bytes, for writing straight to a file.
    public func cHeaderBytes() throws(BTFError) -> [UInt8] {
        let printer = try CDeclarationPrinter(spec: self)
        try printer.writeHeader()
        return printer.output
    }

    /// `cHeader()` handed to `sink` in chunks of about 64 KiB as it is written, so that the
    /// header of vmlinux (several megabytes) never sits in memory whole. The bytes are valid only
    /// during each call. Type references and names out of range and reference cycles are found
    /// before anything reaches `sink`; declarations nested too deeply or padding gaps too wide to
    /// print stop the output where they are.
    ///
    /// ```swift
    /// try KernelBTF.loadVmlinux().writeCHeader { chunk in _ = fwrite(chunk.baseAddress, 1, chunk.count, stdout) }
    /// ```
    public func writeCHeader(to sink: (UnsafeRawBufferPointer) -> Void) throws(BTFError) {
        try withoutActuallyEscaping(sink) { (sink) throws(BTFError) in
            let printer = try CDeclarationPrinter(spec: self, sink: sink)
            try printer.writeHeader()
        }
    }

    /// C declarations of `ids` and of every type they need, in an order that compiles, without
    /// the header's guard and attribute block.
    public func cDeclarations(of ids: [BTFTypeID]) throws(BTFError) -> String {
        let printer = try CDeclarationPrinter(spec: self)
        for id in ids {
            guard id.rawValue < typeCount else { throw .noSuchType(id) }
            try printer.writeDeclarations(of: id)
        }
        return String(decoding: printer.output, as: UTF8.self)
    }
}
