import Glibc

/// Removes `path` and, when it is a directory, everything under it, without following symbolic
/// links. Best effort: what cannot be removed stays.
public func removeTree(_ path: String) {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    if status.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
        var children: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { children.append(name) }
        }
        closedir(directory)
        for child in children { removeTree(path + "/" + child) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
