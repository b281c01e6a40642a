import FuzzSupport
import Persistence

/// A safetensors file: the JSON header, dtypes, shapes, offsets; then every tensor read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? SafeTensors(bytes: FuzzInput.bytes(data, size), source: "fuzz.safetensors") else { return 0 }
    for name in file.names { _ = try? file.tensor(name) }
    return 0
}
