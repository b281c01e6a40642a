import Foundation

/// Which OpenBLAS kernel family a `concord` process loads, chosen deliberately instead of by
/// OpenBLAS's own detection: Debian's OpenBLAS 0.3.21 does not know recent CPUs (Intel
/// Emerald Rapids) and falls back to its Prescott (SSE3) kernels, 2–4× slower.
///
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when it loads — before `main` — so the entry
/// point re-executes itself with the variable set (`reexecIfNeeded`). A value the user set
/// wins; `CONCORD_OPENBLAS_CHOICE` marks a value concord set, for the logs.
public enum BLASCoreChoice {
    /// The variable OpenBLAS reads.
    public static let environmentKey = "OPENBLAS_CORETYPE"
    /// Set (to the family) when concord chose it.
    public static let markerKey = "CONCORD_OPENBLAS_CHOICE"

    /// The family for a CPU with these flags: SkylakeX (AVX-512 kernels) where the CPU has the
    /// AVX-512 subsets they use, else Haswell (AVX2 + FMA), which every CPU the engine runs on
    /// has. Measured (docs/measurements.md): on an Intel Xeon (Emerald Rapids) the MLP bench
    /// runs 11,429 img/s with SkylakeX against 7,003 with Haswell; on an AMD Zen 4 the two are
    /// within noise for the MLP, ResNet-20 and the ViT, and the golden cases pass under both.
    public static func preferred(flags: Set<String>?) -> String? {
        guard let flags, flags.contains("avx2"), flags.contains("fma") else { return nil }
        return CPUFeatures.avx512Subsets.isSubset(of: flags) ? "SkylakeX" : "Haswell"
    }

    /// Re-executes this process with `OPENBLAS_CORETYPE` set to the preferred family when it
    /// is unset; returns (continuing with OpenBLAS's own choice) if that is not needed or the
    /// exec fails.
    public static func reexecIfNeeded(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard (environment[environmentKey] ?? "").isEmpty, environment[markerKey] == nil,
              let family = preferred(flags: CPUFeatures.flags) else { return }
        setenv(environmentKey, family, 1)
        setenv(markerKey, family, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv(environmentKey)   // exec failed: nothing changed for this process
    }

    /// How this process's family was chosen, for the run log and the bench JSON:
    /// `OPENBLAS_CORETYPE=SkylakeX (chosen by concord)`, `… (set by the environment)`, or unset.
    public static func origin(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard let value = environment[environmentKey], !value.isEmpty else { return "OPENBLAS_CORETYPE unset" }
        return "OPENBLAS_CORETYPE=\(value) (" + (environment[markerKey] == value ? "chosen by concord" : "set by the environment") + ")"
    }
}
