import Engine
import FuzzSupport
import Persistence

/// A checkpoint file: header, manifest, zstd frames, entries; then what `checkpoint show`
/// and `export` do with one that loads. The manifest's checksum is set right before parsing
/// (when the header's length fits): otherwise almost every mutation would stop at the
/// checksum and the manifest, frames and entries behind it would never be reached.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = FuzzInput.bytes(data, size)
    if bytes.count >= 24 {
        let length = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        if 24 + length <= bytes.count {
            let hash = StableHash.fnv1a64(bytes[24..<(24 + length)])
            for i in 0..<8 { bytes[16 + i] = UInt8(truncatingIfNeeded: hash >> (8 * UInt64(i))) }
        }
    }
    guard let checkpoint = try? CheckpointFile(bytes: bytes, source: "fuzz.ckpt") else { return 0 }
    _ = checkpoint.inspection(storedBytes: size)
    _ = checkpoint.tensors(prefix: "")
    _ = try? checkpoint.exportModel(source: "fuzz.ckpt")
    _ = try? checkpoint.difference(from: checkpoint)
    return 0
}
