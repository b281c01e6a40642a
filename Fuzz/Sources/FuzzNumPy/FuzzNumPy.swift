import Datasets
import Foundation
import FuzzSupport

/// A .npy array (first byte even) or a .npz archive (odd): header, dtype, shape, zip
/// directory, deflate; then the arrays made into an image data set.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = FuzzInput.bytes(data + 1, size - 1)
    var arrays: [NumPyArray] = []
    if data[0] % 2 == 0 {
        if let array = try? NumPyArray(npy: Data(bytes), source: "fuzz.npy") { arrays = [array] }
    } else if let archive = try? NumPyArchive(contentsOf: FuzzInput.file(bytes, name: "fuzz.npz")) {
        arrays = archive.names.compactMap { try? archive.array($0) }
    }
    if arrays.count >= 2 {
        _ = try? NumPyImages.dataset(images: arrays[0], labels: arrays[1])
    } else if let array = arrays.first {
        _ = try? NumPyImages.dataset(images: array, labels: array)
    }
    return 0
}
