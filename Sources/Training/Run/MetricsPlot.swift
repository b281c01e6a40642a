import Engine
import Foundation

/// Metrics over the epochs of several runs, read from their `metrics.jsonl`: an SVG chart
/// for a person to look at — one panel per metric, stacked on one epoch axis, one curve per
/// run in the same colour in every panel — and the numbers behind it.
///
/// ```swift
/// let plot = try MetricsPlot(runs: ["runs/simclr", "runs/mocov3"], metrics: ["train_loss", "knn_acc"])
/// try AtomicFile.write(plot.svg(title: "SimCLR and MoCo v3"), to: "compare.svg")
/// ```
public struct MetricsPlot {
    /// One run's curve of one metric.
    public struct Series {
        /// The run directory's last path component.
        public let name: String
        /// (epoch, value) for every record that has the metric, in the order written.
        public let points: [(epoch: Int, value: Double)]
    }

    /// One metric of every run.
    public struct Panel {
        /// The plotted key of the records.
        public let metric: String
        /// One curve per run, in the order given (empty where a run lacks the metric).
        public let series: [Series]
    }

    /// The metrics a plot shows when none are named: those of these any run has.
    public static let defaultMetrics = ["train_loss", "test_loss", "test_acc", "knn_acc"]

    /// One panel per metric, in the order asked.
    public let panels: [Panel]
    /// The runs' names (their directories' last path components), in the order given.
    public let runNames: [String]

    /// Reads `metrics` (by default, those of `defaultMetrics` present) from
    /// `run/metrics.jsonl` for each run directory in `runs`; records without a metric (or
    /// without an epoch) are passed over.
    /// - Throws: `TrainingError` naming the file when one cannot be read, and the metrics
    ///   there are when no run has one of `metrics`.
    public init(runs: [String], metrics: [String]? = nil) throws {
        var records: [[[String: Any]]] = [], seen = Set<String>()
        for run in runs {
            let path = (run as NSString).appendingPathComponent("metrics.jsonl")
            guard let text = FileBytes.text(path) else {
                throw TrainingError("\(path): cannot be read; pass run directories written by concord train")
            }
            var lines: [[String: Any]] = []
            for (number, line) in text.split(separator: "\n").enumerated() {
                guard let record = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                    throw TrainingError("\(path):\(number + 1): not a JSON object; the file is damaged")
                }
                seen.formUnion(record.keys)
                lines.append(record)
            }
            records.append(lines)
        }
        let available = seen.subtracting(["epoch", "iteration", "ranks"]).sorted().joined(separator: ", ")
        let wanted = metrics ?? Self.defaultMetrics.filter(seen.contains)
        guard !wanted.isEmpty else {
            throw TrainingError("no record of \(runs.joined(separator: ", ")) has \(Self.defaultMetrics.joined(separator: ", ")); name metrics with --metrics, one of: \(available)")
        }
        let names = runs.map { ($0 as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? $0 }
        panels = try wanted.map { metric in
            let series = zip(names, records).map { name, lines in
                Series(name: name, points: lines.compactMap { record in
                    guard let epoch = record["epoch"] as? Int, let value = Self.number(record[metric]), value.isFinite else { return nil }
                    return (epoch, value)
                })
            }
            guard series.contains(where: { !$0.points.isEmpty }) else {
                throw TrainingError("no record of \(runs.joined(separator: ", ")) has '\(metric)'; choose one of: \(available)")
            }
            return Panel(metric: metric, series: series)
        }
        runNames = names
    }

    /// A JSON number as a double (JSONSerialization gives integers and doubles apart).
    private static func number(_ value: Any?) -> Double? {
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        return nil
    }

    /// One line per metric and run: its last and best value (highest for an accuracy, lowest
    /// otherwise).
    public var summary: [String] {
        panels.flatMap { panel in
            let higherIsBetter = panel.metric.hasSuffix("acc") || panel.metric.hasSuffix("accuracy")
            return panel.series.map { s in
                guard let last = s.points.last else { return "\(s.name): no '\(panel.metric)'" }
                let best = (higherIsBetter ? s.points.max { $0.value < $1.value } : s.points.min { $0.value < $1.value }) ?? last
                return "\(s.name): \(panel.metric) \(SchedulePlot.format(last.value)) at epoch \(last.epoch), best \(SchedulePlot.format(best.value)) at epoch \(best.epoch)"
            }
        }
    }

    /// The chart: a legend row (each run's colour), then one panel per metric — epochs on x,
    /// shared by every panel; a vertical scale fitted to the metric's values on round numbers;
    /// a curve and dots per run, and each run's last value beside the panel's title.
    public func svg(title: String) -> String {
        let width = 900.0, left = 80.0, right = 30.0, panelHeight = 260.0, gap = 70.0, legendTop = 48.0
        let plotW = width - left - right
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
        let lastEpoch = max(panels.flatMap { $0.series.flatMap(\.points) }.map(\.epoch).max() ?? 1, 1)
        func x(_ epoch: Int) -> Double { left + plotW * Double(epoch) / Double(lastEpoch) }
        // The legend: runs in rows of as many as fit, each slot as wide as its longest name needs.
        let slotWidth = min(plotW, max(120, Double(runNames.map(\.count).max() ?? 0) * 7.5 + 30))
        let perRow = max(1, Int(plotW / slotWidth))
        let legendRows = (runNames.count + perRow - 1) / perRow
        let firstPanelTop = legendTop + 20 * Double(legendRows) + 30
        let height = firstPanelTop + Double(panels.count) * (panelHeight + gap) - 10
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="24" text-anchor="middle" font-size="16">\(SchedulePlot.escape(title))</text>

            """
        for (k, name) in runNames.enumerated() {
            let lx = left + slotWidth * Double(k % perRow), ly = legendTop + 20 * Double(k / perRow)
            out += "<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 18)\" y2=\"\(ly - 4)\" stroke=\"\(colors[k % colors.count])\" stroke-width=\"3\"/>"
            out += "<text x=\"\(lx + 24)\" y=\"\(ly)\">\(SchedulePlot.escape(name))</text>\n"
        }
        for (p, panel) in panels.enumerated() {
            let top = firstPanelTop + Double(p) * (panelHeight + gap)
            out += panelSVG(panel, top: top, left: left, plotW: plotW, plotH: panelHeight, lastEpoch: lastEpoch, x: x, colors: colors)
        }
        return out + "</svg>\n"
    }

    private func panelSVG(_ panel: Panel, top: Double, left: Double, plotW: Double, plotH: Double, lastEpoch: Int,
                          x: (Int) -> Double, colors: [String]) -> String {
        let all = panel.series.flatMap(\.points)
        var low = all.map(\.value).min() ?? 0, high = all.map(\.value).max() ?? 1
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
        let axis = Self.roundAxis(low, high, intervals: 5)
        (low, high) = (axis.low, axis.high)
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - low) / (high - low)) }
        let lastValues = panel.series.enumerated().compactMap { k, s in
            s.points.last.map { "<tspan fill=\"\(colors[k % colors.count])\">\(SchedulePlot.format($0.value))</tspan>" }
        }
        var out = "<text x=\"\(left)\" y=\"\(top - 10)\" font-size=\"14\" font-weight=\"bold\">\(SchedulePlot.escape(panel.metric))</text>"
        out += "<text x=\"\(left + plotW)\" y=\"\(top - 10)\" text-anchor=\"end\">last: \(lastValues.joined(separator: " · "))</text>\n"
        out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#888\"/>\n"
        for k in 0...Int(((high - low) / axis.step).rounded()) {
            let v = low + axis.step * Double(k), py = y(v)
            out += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(left + plotW)\" y2=\"\(py)\" stroke=\"#eee\"/>"
            out += "<text x=\"\(left - 8)\" y=\"\(py + 4)\" text-anchor=\"end\">\(String(format: "%.\(axis.decimals)f", v))</text>\n"
        }
        let every = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].first { lastEpoch / $0 <= 12 } ?? max(1, lastEpoch / 12)
        for e in stride(from: 0, through: lastEpoch, by: every) {
            out += "<text x=\"\(x(e))\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(e)</text>\n"
        }
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(top + plotH + 36)\" text-anchor=\"middle\" fill=\"#555\">epoch</text>\n"
        for (k, s) in panel.series.enumerated() where !s.points.isEmpty {
            let color = colors[k % colors.count]
            let points = s.points.map { String(format: "%.1f,%.1f", x($0.epoch), y($0.value)) }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            for p in s.points { out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" ", x(p.epoch), y(p.value)) + "fill=\"\(color)\"/>" }
            out += "\n"
        }
        return out
    }

    /// A value axis that starts and ends on round numbers: `low`…`high` widened to multiples
    /// of the smallest step of 1, 2, 2.5 or 5 × 10ᵏ that needs at most `intervals` intervals,
    /// and the decimals its labels need.
    public static func roundAxis(_ low: Double, _ high: Double, intervals: Int = 6) -> (low: Double, high: Double, step: Double, decimals: Int) {
        // The multiples of `step` around the range (a hair of slack for 0.84 / 0.01 = 83.999…).
        func ends(_ step: Double) -> (low: Double, high: Double) {
            ((low / step + 1e-9).rounded(.down) * step, (high / step - 1e-9).rounded(.up) * step)
        }
        let exponent = Int(log10((high - low) / Double(intervals)).rounded(.down))
        let choices = [(1.0, exponent), (2.0, exponent), (2.5, exponent), (5.0, exponent), (1.0, exponent + 1), (2.0, exponent + 1)]
        let fits = choices.first { m, e in
            let step = m * pow(10, Double(e)), axis = ends(step)
            return axis.high - axis.low <= Double(intervals) * step * (1 + 1e-9)
        } ?? choices[choices.count - 1]
        let step = fits.0 * pow(10, Double(fits.1))
        let decimals = max(0, -fits.1) + (fits.0 == 2.5 ? 1 : 0)
        let axis = ends(step)
        return (axis.low, axis.high, step, decimals)
    }
}
