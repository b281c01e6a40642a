import Config
import FuzzSupport

/// A hostfile, as `concord hostfile` (and so launch/cluster) reads it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHostfile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? Hostfile(text: String(decoding: FuzzInput.bytes(data, size), as: UTF8.self), source: "fuzz-hosts") else { return 0 }
    _ = Hostfile.render(file.without([file.nodes[0].host]))
    return 0
}
