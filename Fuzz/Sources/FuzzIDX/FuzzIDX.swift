import Datasets
import FuzzSupport

/// An IDX file, plain or gzip-compressed (it is read through zlib from a path).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = FuzzInput.file(FuzzInput.bytes(data, size), name: "fuzz-idx3-ubyte.gz")
    _ = try? IDXFile(path: path)
    return 0
}
