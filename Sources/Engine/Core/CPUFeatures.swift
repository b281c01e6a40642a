import Foundation

/// The x86 instruction-set extensions of the running CPU, read once from /proc/cpuinfo.
///
/// Numeric code is built for AVX2 + FMA; the shifted-GEMM kernels also exist compiled for
/// AVX-512 and are chosen at run time when every extension that build uses is present.
public enum CPUFeatures {
    /// The `flags` of the first CPU in /proc/cpuinfo; nil when the file cannot be read
    /// (not Linux) or has no flags line.
    public static let flags: Set<String>? = {
        #if arch(x86_64)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        return Set(line.split(separator: " ").map(String.init))
        #else
        return nil
        #endif
    }()

    /// Extensions the build requires and this CPU lacks, or nil when none are missing (or the
    /// flags cannot be read, in which case the check is skipped).
    public static func missingRequired() -> [String]? {
        guard let flags else { return nil }
        let missing = ["avx2", "fma"].filter { !flags.contains($0) }
        return missing.isEmpty ? nil : missing
    }

    /// The AVX-512 subsets of the `skylake-avx512` target: what the engine's AVX-512 kernels
    /// (and OpenBLAS's SkylakeX family) execute.
    public static let avx512Subsets: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// Whether the AVX-512 kernels can run on this CPU.
    public static var hasAVX512: Bool {
        guard let flags else { return false }
        return avx512Subsets.isSubset(of: flags)
    }
}
