/// FNV-1a, 64-bit: tiny, dependency-free and the same on every platform, process and Swift
/// version (unlike `Hasher`, which is seeded per process). It fingerprints things that are
/// compared across processes or runs: a config, a checkpoint's manifest, the parameter
/// signature every rank must share. Not a cryptographic hash.
public enum StableHash {
    /// The FNV-1a 64 digest of `bytes`.
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    /// The digest of `text`'s UTF-8 bytes.
    public static func fnv1a64(_ text: String) -> UInt64 { fnv1a64(text.utf8) }

    /// `digest` as 16 lowercase hex digits.
    public static func hex(_ digest: UInt64) -> String {
        let digits = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
