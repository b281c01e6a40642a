import Datasets
import Foundation

/// The first `train` training and `test` test images of Fashion-MNIST as unpacked IDX files
/// in `directory`: a data set small enough for the debug build. Returns the directory.
func smallFashionMNIST(train: Int, test: Int, in directory: String) throws -> String {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func bigEndian(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
    for (split, n) in [(FashionMNIST.Split.train, train), (.test, test)] {
        let full = try FashionMNIST.load(split: split)
        let names = FashionMNIST.fileNames(for: split)
        let images = bigEndian(0x803) + bigEndian(n) + bigEndian(28) + bigEndian(28) + Array(full.images.prefix(n * 784))
        let labels = bigEndian(0x801) + bigEndian(n) + full.labels.prefix(n).map { UInt8($0) }
        try Data(images).write(to: URL(fileURLWithPath: directory + "/" + String(names.images.dropLast(3))))
        try Data(labels).write(to: URL(fileURLWithPath: directory + "/" + String(names.labels.dropLast(3))))
    }
    return directory
}
