import Datasets
import Foundation

/// The first `train` training and `test` test images of Fashion-MNIST as unpacked IDX files
/// in `directory`: a data set small enough for the debug build. With `byClass`, each split's
/// images are reordered by class (stably), the order an image folder lists them in. Returns
/// the directory.
func smallFashionMNIST(train: Int, test: Int, in directory: String, byClass: Bool = false) throws -> String {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func bigEndian(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
    for (split, n) in [(FashionMNIST.Split.train, train), (.test, test)] {
        let full = try FashionMNIST.load(split: split)
        let names = FashionMNIST.fileNames(for: split)
        let order = byClass ? (0..<n).sorted { (full.labels[$0], $0) < (full.labels[$1], $1) } : Array(0..<n)
        let pixels = full.images.withUnsafeBufferPointer { all in order.flatMap { all[($0 * 784)..<(($0 + 1) * 784)] } }
        let images = bigEndian(0x803) + bigEndian(n) + bigEndian(28) + bigEndian(28) + pixels
        let labels = bigEndian(0x801) + bigEndian(n) + order.map { UInt8(full.labels[$0]) }
        try Data(images).write(to: URL(fileURLWithPath: directory + "/" + String(names.images.dropLast(3))))
        try Data(labels).write(to: URL(fileURLWithPath: directory + "/" + String(names.labels.dropLast(3))))
    }
    return directory
}
