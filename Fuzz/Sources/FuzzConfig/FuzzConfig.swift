import Config
import FuzzSupport

/// A YAML config (the text up to the first NUL) and `--set` flags (the pieces after it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let pieces = String(decoding: FuzzInput.bytes(data, size), as: UTF8.self).split(separator: "\u{0}", omittingEmptySubsequences: false)
    let overrides = pieces.dropFirst().prefix(8).map(String.init)
    guard let config = try? ConfigLoader.parse(yaml: String(pieces.first ?? ""), source: "fuzz.yaml", overrides: overrides) else { return 0 }
    _ = config.yaml()
    _ = config.hash
    return 0
}
