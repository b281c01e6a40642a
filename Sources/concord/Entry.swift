import Engine
import Foundation

/// Process entry: refuse to start on a CPU without the instructions the numeric code is
/// compiled for (AVX2 + FMA), with a message instead of an illegal-instruction crash; load
/// OpenBLAS's kernels for this CPU (`BLASCoreChoice`); apply a `CONCORD_KERNELS` pin.
@main
enum Entry {
    static func main() {
        if let missing = CPUFeatures.missingRequired() {
            FileHandle.standardError.write(Data(
                "concord: this CPU lacks \(missing.joined(separator: ", ")); concord needs an x86-64 CPU with AVX2 and FMA (Haswell / Zen or newer)\n".utf8))
            exit(1)
        }
        BLASCoreChoice.reexecIfNeeded()
        do {
            ShiftedGemm.kernels = try ShiftedGemm.choose(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("concord: \(error)\n".utf8))
            exit(ExitStatus.of(error))
        }
        Concord.main()
    }
}
