import Foundation

/// Process entry: refuse to start on a CPU without the instructions the numeric code is
/// compiled for (AVX2 + FMA), with a message instead of an illegal-instruction crash.
@main
enum Entry {
    static func main() {
        if let missing = CPUFeatures.missingRequired() {
            FileHandle.standardError.write(Data(
                "concord: this CPU lacks \(missing.joined(separator: ", ")); concord needs an x86-64 CPU with AVX2 and FMA (Haswell / Zen or newer)\n".utf8))
            exit(1)
        }
        Concord.main()
    }
}

enum CPUFeatures {
    /// Required flags absent from /proc/cpuinfo, or nil when all are present (or the file
    /// cannot be read, e.g. not Linux — then the check is skipped).
    static func missingRequired() -> [String]? {
        #if arch(x86_64)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let missing = ["avx2", "fma"].filter { !flags.contains($0) }
        return missing.isEmpty ? nil : missing
        #else
        return nil
        #endif
    }
}
