import Config
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rank 0's progress on stdout: a redrawn one-line bar on a terminal, plain lines every
/// `log_every` iterations otherwise (log files, `mpirun` output capture), or nothing.
///
/// Not thread-safe: call it from the training loop only.
public final class ProgressDisplay {
    /// What the display actually draws, after looking at the mode and the terminal.
    public enum Style: Equatable, Sendable {
        /// `\r`-redrawn single line.
        case bar
        /// One line every `logEvery` iterations.
        case plain
        /// Nothing.
        case silent
    }

    /// Resolved from the mode and whether stdout is a terminal.
    public let style: Style
    /// Iterations in one epoch (≥ 1).
    public let iterationsPerEpoch: Int
    /// Epochs in the run (≥ 1).
    public let epochs: Int
    /// Plain-mode line interval, in iterations (≥ 1).
    public let logEvery: Int

    private let clock: () -> Double
    private let write: (String) -> Void
    /// Where the rate is measured from: the first update seen in the current epoch. Reset per
    /// epoch so evaluation time between epochs doesn't drag the it/s down.
    private var reference: (epoch: Int, iteration: Int, time: Double)?
    private var lastDraw = -Double.infinity
    private var barOnScreen = false
    private var lastBar = ""

    /// - Parameters:
    ///   - mode: `run.progress`.
    ///   - iterationsPerEpoch: steps per epoch on this rank.
    ///   - epochs: `train.epochs`.
    ///   - logEvery: `run.log_every`.
    ///   - isTerminal: whether stdout is a terminal; injectable for tests.
    ///   - terminalType: `TERM`; `auto` draws no bar on a `dumb` terminal.
    ///   - clock: seconds from any fixed origin, monotonic; injectable for tests.
    ///   - write: where text goes; stdout by default, a capture closure in tests.
    public init(mode: ProgressMode, iterationsPerEpoch: Int, epochs: Int, logEvery: Int,
                isTerminal: Bool = ProgressDisplay.stdoutIsTerminal(),
                terminalType: String? = ProcessInfo.processInfo.environment["TERM"],
                clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
                write: @escaping (String) -> Void = ProgressDisplay.writeToStdout) {
        switch mode {
        case .none: style = .silent
        case .plain: style = .plain
        case .bar: style = isTerminal ? .bar : .plain
        case .auto: style = isTerminal && terminalType != "dumb" ? .bar : .plain
        }
        self.iterationsPerEpoch = max(iterationsPerEpoch, 1)
        self.epochs = max(epochs, 1)
        self.logEvery = max(logEvery, 1)
        self.clock = clock
        self.write = write
    }

    /// Reports that `iteration` steps of the whole run are done (global, 1-based: pass 1 after
    /// the first step). Global so a resumed run continues where it stopped; the epoch and the
    /// position in it are derived from `iterationsPerEpoch`.
    /// - Parameter metrics: shown in order, e.g. `[("loss", 0.41), ("acc", 0.87)]`.
    public func update(iteration: Int, metrics: [(String, Double)]) {
        guard style != .silent, iteration >= 1 else { return }
        let epoch = (iteration - 1) / iterationsPerEpoch + 1
        let position = (iteration - 1) % iterationsPerEpoch + 1
        let now = clock()
        if reference?.epoch != epoch { reference = (epoch, iteration, now) }
        let rate = reference.flatMap { ref -> Double? in
            let elapsed = now - ref.time
            return iteration > ref.iteration && elapsed > 0 ? Double(iteration - ref.iteration) / elapsed : nil
        }
        let epochText = "epoch \(epoch)/\(epochs)"
        let countText = "\(position)/\(iterationsPerEpoch)"
        var tail = rate.map { Self.formatRate($0) + " it/s" } ?? "-- it/s"
        if let rate {
            let epochLeft = Double(iterationsPerEpoch - position) / rate
            let runLeft = Double(iterationsPerEpoch * epochs - iteration) / rate
            tail += " eta " + Self.formatDuration(epochLeft)
            if epoch < epochs { tail += " (run " + Self.formatDuration(runLeft) + ")" }
        }
        for (name, value) in metrics { tail += " \(name) " + Self.formatMetric(value) }

        switch style {
        case .bar:
            // Redrawing every step of a fast model floods the terminal; 10 Hz reads as smooth.
            guard now - lastDraw >= 0.1 || position == iterationsPerEpoch || !barOnScreen else { return }
            lastBar = "\(epochText) \(Self.bar(position, of: iterationsPerEpoch)) \(countText) \(tail)"
            write("\r\u{1B}[K" + lastBar)
            barOnScreen = true
            lastDraw = now
        case .plain:
            guard iteration % logEvery == 0 else { return }
            write("\(epochText) iter \(countText) \(tail)\n")
        case .silent:
            return
        }
    }

    /// Ends the epoch: the bar (if any) stays as it is and `summary` follows on its own line.
    public func finishEpoch(summary: String) {
        guard style != .silent else { return }
        endBarLine()
        write(summary + "\n")
        reference = nil
    }

    /// Prints `line` (e.g. "checkpoint saved") without mangling the bar: the bar is cleared,
    /// the line printed, the bar redrawn below it.
    public func note(_ line: String) {
        guard style != .silent else { return }
        if style == .bar, barOnScreen {
            write("\r\u{1B}[K" + line + "\n" + lastBar)
        } else {
            write(line + "\n")
        }
    }

    // MARK: - Defaults

    /// Whether stdout is a terminal (`isatty(1)`).
    public static func stdoutIsTerminal() -> Bool { isatty(STDOUT_FILENO) != 0 }

    /// Writes to stdout unbuffered; a closed pipe (`concord ... | head`) is ignored rather than
    /// crashing the run.
    public static func writeToStdout(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
    }

    // MARK: - Formatting

    private func endBarLine() {
        if barOnScreen { write("\n") }
        barOnScreen = false
        lastBar = ""
        lastDraw = -.infinity
    }

    static func bar(_ done: Int, of total: Int, width: Int = 24) -> String {
        let filled = min(width, done * width / max(total, 1))
        let head = filled < width && filled > 0 ? ">" : ""
        let body = String(repeating: "=", count: max(filled - head.count, 0)) + head
        return "[" + body + String(repeating: " ", count: width - body.count) + "]"
    }

    static func formatRate(_ rate: Double) -> String {
        String(format: rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f", rate)
    }

    /// `m:ss`, or `h:mm:ss` from an hour up.
    static func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    /// Four decimals for ordinary magnitudes, scientific for tiny or huge ones (an lr of 1e-5
    /// would otherwise print as 0.0000).
    static func formatMetric(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let magnitude = abs(value)
        return magnitude == 0 || (magnitude >= 1e-3 && magnitude < 1e5)
            ? String(format: "%.4f", value) : String(format: "%.3e", value)
    }
}
