import Datasets
import Foundation
import FuzzSupport

/// A CIFAR-10 (first byte even) or CIFAR-100 (odd) test split: the class-name file (the
/// bytes up to the first 0) and the batch file (the rest).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = FuzzInput.bytes(data + 1, size - 1)
    let cut = bytes.firstIndex(of: 0) ?? bytes.count
    let names = Array(bytes[..<cut]), batch = Array(bytes[min(cut + 1, bytes.count)...])
    let ten = data[0] % 2 == 0
    let directory = FuzzInput.scratchDirectory + (ten ? "/cifar-10" : "/cifar-100")
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    FuzzInput.file(names, name: (ten ? "cifar-10/batches.meta.txt" : "cifar-100/fine_label_names.txt"))
    FuzzInput.file(batch, name: (ten ? "cifar-10/test_batch.bin" : "cifar-100/test.bin"))
    _ = try? CIFAR.load(train: false, directory: directory)
    return 0
}
