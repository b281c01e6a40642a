import Engine
import Foundation

/// The files of a `root/<class>/…/*.png|jpg|jpeg` tree in torchvision `ImageFolder`'s order:
/// classes are the folders directly under `root`, sorted by code point (case-sensitive); each
/// class's images are found in every folder beneath it, the folders sorted by path and the
/// files in each sorted by name; extensions match case-insensitively (`.JPG` counts).
///
/// Scanning reads names and sizes only; `fingerprint` changes when any image is added,
/// removed, renamed, rewritten or touched, which is what invalidates a decode cache.
public struct ImageFolder: Sendable {
    /// The extensions read (compared lower-cased).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The folder scanned.
    public let root: String
    /// Class names, indexed by label.
    public let classNames: [String]
    /// Each image's path below `root` ("shirt/0001.png"), in dataset order.
    public let files: [String]
    /// Each image's class.
    public let labels: [Int]
    /// A digest of every image's path, size and modification time.
    public let fingerprint: String

    /// Number of images.
    public var count: Int { files.count }

    /// Scans `root`. With `classNames` (a training set's), labels follow those names instead
    /// of this folder's own sorted order, and a class folder not among them is an error.
    /// - Throws: `DatasetError` naming the folder: missing, no class folders, a class folder
    ///   without images, or a class the training set does not have.
    public init(root: String, classNames known: [String]? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError("image folder '\(root)' does not exist; set data.path (or data.train_images / data.test_images) to a folder of class folders")
        }
        let classes = try Self.entries(of: root).filter { Self.isDirectory(root + "/" + $0) }
        guard !classes.isEmpty else {
            throw DatasetError("image folder '\(root)' has no class folders; put each class's images in root/<class>/")
        }
        var files: [String] = [], labels: [Int] = []
        for (index, name) in classes.enumerated() {
            var label = index
            if let known {
                guard let index = known.firstIndex(of: name) else {
                    throw DatasetError("image folder '\(root)/\(name)': a class the training set does not have (it has \(known.count): \(known.prefix(5).joined(separator: ", "))\(known.count > 5 ? ", …" : "")); remove it or add it to the training set")
                }
                label = index
            }
            let before = files.count
            for directory in try Self.folders(under: name, root: root) {
                for file in try Self.entries(of: root + "/" + directory) {
                    let relative = directory + "/" + file
                    guard let dot = file.lastIndex(of: "."),
                          Self.extensions.contains(file[file.index(after: dot)...].lowercased()) else { continue }
                    var info = stat()
                    guard stat(root + "/" + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                    files.append(relative)
                    labels.append(label)
                }
            }
            guard files.count > before else {
                throw DatasetError("image folder '\(root)/\(name)' holds no .png, .jpg or .jpeg files; add images or remove the folder")
            }
        }
        self.root = root
        self.classNames = known ?? classes
        self.files = files
        self.labels = labels
        fingerprint = Self.fingerprint(of: files.map { root + "/" + $0 })
    }

    /// A digest of the files' paths, sizes and modification times (to the nanosecond); a
    /// file that cannot be read contributes its path alone.
    public static func fingerprint(of paths: [String]) -> String {
        var digest: [UInt8] = []
        for path in paths {
            digest += Array(path.utf8) + [0]
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            digest += bytes(Int(info.st_size)) + bytes(info.st_mtim.tv_sec) + bytes(info.st_mtim.tv_nsec)
        }
        return StableHash.hex(StableHash.fnv1a64(digest))
    }

    /// Names in `path`, sorted by their UTF-8 bytes (Python's `sorted` on str).
    static func entries(of path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw DatasetError("image folder '\(path)': cannot list it (\(SystemError.reason(error))); check its permissions")
        }
    }

    /// `start` and every folder beneath it (links followed, each real folder once), relative
    /// to `root`, sorted by path as `sorted(os.walk(…))` lists them.
    static func folders(under start: String, root: String) throws -> [String] {
        var found: [String] = [], pending = [start], seen = Set<[UInt64]>()
        while let folder = pending.popLast() {
            var info = stat()
            guard stat(root + "/" + folder, &info) == 0, seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { continue }
            found.append(folder)
            for name in try entries(of: root + "/" + folder) where isDirectory(root + "/" + folder + "/" + name) {
                pending.append(folder + "/" + name)
            }
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Whether `path` is a folder (links followed).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: Int64(value).littleEndian) { Array($0) }
    }
}
