import Engine
import Foundation

/// CIFAR-10 and CIFAR-100 in their binary versions (`cifar-10-batches-bin/`,
/// `cifar-100-binary/`), read into an `ImageDataset` of 3×32×32 images.
///
/// ```text
/// CIFAR-10   data_batch_1.bin … data_batch_5.bin, test_batch.bin   records of 1 + 3072 bytes: <label 0–9><pixels>
/// CIFAR-100  train.bin, test.bin                                   records of 2 + 3072 bytes: <coarse 0–19><fine 0–99><pixels>
/// pixels     1024 red, then 1024 green, then 1024 blue; each plane 32×32 row-major
/// ```
///
/// The planar pixel layout is `ImageDataset`'s own, so records are copied as they are. Class
/// names come from `batches.meta.txt` / `fine_label_names.txt` / `coarse_label_names.txt` when
/// present, else are the label numbers.
public enum CIFAR {
    /// Which labels of CIFAR-100 to train on.
    public enum Labels: String, Sendable, CaseIterable {
        /// The 100 classes.
        case fine
        /// The 20 superclasses.
        case coarse
    }

    /// Pixels per record: 3 planes of 32×32.
    public static let pixels = 3 * 32 * 32

    /// The train or test split in `directory`, CIFAR-10's or CIFAR-100's (whichever files are
    /// there).
    /// - Throws: `DatasetError` naming the directory or file and what is wrong.
    public static func load(train: Bool, directory: String, labels: Labels = .fine) throws -> ImageDataset {
        let cifar10 = train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        let cifar100 = [train ? "train.bin" : "test.bin"]
        let has = { (name: String) in FileManager.default.fileExists(atPath: directory + "/" + name) }
        if cifar10.contains(where: has) {
            let names = try classNames(directory + "/batches.meta.txt", count: 10)
            var images: [UInt8] = [], classes: [Int] = []
            for name in cifar10 {
                guard has(name) else {
                    throw DatasetError("\(directory)/\(name): CIFAR-10 batch missing (the directory has some of data_batch_1…5.bin); unpack cifar-10-binary.tar.gz again")
                }
                try read(directory + "/" + name, labelBytes: 1, labelIndex: 0, classes: 10, into: &images, labels: &classes)
            }
            return ImageDataset(images: images, labels: classes, channels: 3, height: 32, width: 32, classNames: names)
        }
        if cifar100.contains(where: has) {
            let count = labels == .fine ? 100 : 20
            let names = try classNames(directory + "/" + (labels == .fine ? "fine" : "coarse") + "_label_names.txt", count: count)
            var images: [UInt8] = [], classes: [Int] = []
            try read(directory + "/" + cifar100[0], labelBytes: 2, labelIndex: labels == .fine ? 1 : 0, classes: count,
                     into: &images, labels: &classes)
            return ImageDataset(images: images, labels: classes, channels: 3, height: 32, width: 32, classNames: names)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError("\(directory): CIFAR directory not found; set data.path to the unpacked cifar-10-batches-bin or cifar-100-binary directory")
        }
        throw DatasetError("\(directory): holds neither CIFAR-10's \(cifar10[0]) nor CIFAR-100's \(cifar100[0]); set data.path to the unpacked binary version (cifar-10-binary.tar.gz / cifar-100-binary.tar.gz)")
    }

    /// Appends the records of one batch file.
    static func read(_ path: String, labelBytes: Int, labelIndex: Int, classes: Int,
                     into images: inout [UInt8], labels: inout [Int]) throws {
        guard let data = FileBytes.contents(path) else {
            throw DatasetError("\(path): cannot be read; check the file's permissions")
        }
        let record = labelBytes + pixels
        guard !data.isEmpty, data.count % record == 0 else {
            throw DatasetError("\(path): \(data.count) bytes is not a whole number of \(record)-byte CIFAR records; the file is truncated or not a CIFAR\(labelBytes == 1 ? "-10" : "-100") batch — unpack it again")
        }
        let count = data.count / record
        images.reserveCapacity(images.count + count * pixels)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            for r in 0..<count {
                let label = Int(bytes[r * record + labelIndex])
                guard label < classes else {
                    throw DatasetError("\(path): record \(r) has label \(label), outside 0..<\(classes); the file is corrupt or from another data set")
                }
                labels.append(label)
                images.append(contentsOf: bytes[(r * record + labelBytes)..<((r + 1) * record)])
            }
        }
    }

    /// The class names in a label-names file (one per line), or "0", "1", … when it is absent.
    static func classNames(_ path: String, count: Int) throws -> [String] {
        guard let text = FileBytes.text(path) else { return (0..<count).map(String.init) }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == count else {
            throw DatasetError("\(path): \(names.count) class names, expected \(count); restore the file or remove it (labels are then numbered)")
        }
        return names
    }
}
