import EBPF
import Glibc

/// `bpf2swift`: compiles a BPF C source for both byte orders and writes Swift that embeds the
/// objects and loads them by name, as bpf2go does for Go.
public enum BPF2Swift {
    /// Writes `bpf2swift: <line>` to standard error.
    public static func printError(_ line: String) {
        let bytes = Array("bpf2swift: \(line)\n".utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Runs one invocation with the words after the program name; messages go to `report`.
    /// Returns the exit status: 0 done (or up to date), 1 failed, 2 bad command line.
    public static func run(arguments: [String], report: (String) -> Void) -> Int32 {
        let options: Options
        do {
            options = try Options.parse(arguments)
        } catch {
            report(BPF2SwiftError.usage(error).description)
            return 2
        }
        if options.help {
            print(Options.usage)
            return 0
        }
        do {
            try generate(options: options, arguments: arguments, report: report)
            return 0
        } catch {
            report(error.description)
            return 1
        }
    }

    /// Compiles (unless the source is an object already), reads the objects, and writes the Swift
    /// file and the dependency file.
    static func generate(options: Options, arguments: [String], report: (String) -> Void) throws(BPF2SwiftError) {
        let fingerprint = DependencyFile.fingerprint(of: arguments)
        if !options.force,
            DependencyFile.isUpToDate(
                output: options.outputFile, dependencyFile: options.dependencyFilePath, fingerprint: fingerprint)
        {
            return
        }
        try Files.makeDirectories(options.outputDirectory)
        if let objectDirectory = options.objectDirectory { try Files.makeDirectories(objectDirectory) }

        var objects: [EmbeddedObject] = []
        var spec: CollectionSpec?
        var prerequisites: [String] = []
        if options.source.hasSuffix(".o") {
            // A prebuilt object: embedded as it is, for the byte order it was built for.
            let bytes = try Files.read(options.source)
            let parsed = try parse(bytes, path: options.source)
            objects = [EmbeddedObject(littleEndian: parsed.byteOrder == .littleEndian, bytes: bytes)]
            spec = parsed
            prerequisites = [options.source]
        } else {
            var options = options
            if let btf = options.vmlinuxBTF {
                let directory = join(options.outputDirectory, options.stem + ".include")
                try VmlinuxHeader.write(from: btf, into: directory)
                options.compilerFlags = ["-I", directory] + options.compilerFlags
            }
            let compiler = try Compiler.find(options: options)
            let temporary = try Files.makeTemporaryDirectory()
            defer { Files.removeTree(temporary) }
            for target in options.targets {
                let name = "\(options.stem)_\(target.suffix).o"
                let object = join(options.objectDirectory ?? temporary, name)
                let dependencies = join(temporary, name + ".d")
                try compiler.compile(
                    source: options.source, target: target, object: object, dependencies: dependencies, options: options)
                try compiler.stripDebugInformation(object)
                let bytes = try Files.read(object)
                let parsed = try parse(bytes, path: object)
                if spec == nil || target.isLittleEndian { spec = parsed }
                objects.append(EmbeddedObject(littleEndian: target.isLittleEndian, bytes: bytes))
                let text = String(decoding: try Files.read(dependencies), as: UTF8.self)
                for prerequisite in DependencyFile.prerequisites(in: text) where !prerequisites.contains(prerequisite) {
                    prerequisites.append(prerequisite)
                }
            }
        }
        guard let spec else { throw .generation("no object was built") }

        var generator = CodeGenerator(
            identifier: options.identifier, sourceName: options.source, command: ["bpf2swift"] + arguments,
            spec: spec, objects: objects, extraTypes: options.extraTypes)
        let text = try generator.generate()
        for renaming in generator.renamings { report("renamed: \(renaming)") }
        try Files.write(Array(text.utf8), to: options.outputFile)
        let dependencyText = DependencyFile.text(
            output: options.outputFile, prerequisites: prerequisites, fingerprint: fingerprint)
        try Files.write(Array(dependencyText.utf8), to: options.dependencyFilePath)
    }

    /// Writes `vmlinux.h` for the BTF in `path` into `directory`, leaving a header with the same
    /// text untouched so that its time stamp does not make the build recompile.
    enum VmlinuxHeader {
        static func write(from path: String, into directory: String) throws(BPF2SwiftError) {
            let text: [UInt8]
            do {
                text = try BTFSpec(path: path).cHeaderBytes()
            } catch {
                throw .generation("-vmlinux-btf \(path): \(error)")
            }
            try Files.makeDirectories(directory)
            let header = join(directory, "vmlinux.h")
            if let existing = try? Files.read(header), existing == text { return }
            try Files.write(text, to: header)
        }
    }

    static func parse(_ bytes: [UInt8], path: String) throws(BPF2SwiftError) -> CollectionSpec {
        do {
            return try CollectionSpec(elfBytes: bytes)
        } catch {
            throw .object(path: path, error: error.description)
        }
    }
}
