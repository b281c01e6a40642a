import Foundation

/// This process's memory, as metrics and the bench report it.
public enum ProcessMemory {
    /// Peak resident set size of this process (getrusage ru_maxrss, KiB on Linux), in MiB.
    public static func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
