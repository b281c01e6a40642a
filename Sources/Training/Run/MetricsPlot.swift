import Foundation

/// One metric over the epochs of several runs, read from their `metrics.jsonl`: an SVG chart
/// for a person to look at (kNN accuracy of two pre-trainings, a test loss) and the numbers
/// behind it.
///
/// ```swift
/// let plot = try MetricsPlot(runs: ["runs/simclr", "runs/mocov3"], metric: "knn_acc")
/// try AtomicFile.write(plot.svg(title: "kNN top-1"), to: "knn.svg")
/// ```
public struct MetricsPlot {
    /// One run's curve.
    public struct Series {
        /// The run directory's last path component.
        public let name: String
        /// (epoch, value) for every record that has the metric, in the order written.
        public let points: [(epoch: Int, value: Double)]
    }

    /// The plotted key of the records.
    public let metric: String
    /// One curve per run, in the order given.
    public let series: [Series]

    /// Reads `metric` from `run/metrics.jsonl` for each run directory in `runs`; records
    /// without the metric (or without an epoch) are passed over.
    /// - Throws: `TrainingError` naming the file when one cannot be read, and the metrics
    ///   there are when no run has `metric`.
    public init(runs: [String], metric: String) throws {
        var series: [Series] = [], seen = Set<String>()
        for run in runs {
            let path = (run as NSString).appendingPathComponent("metrics.jsonl")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw TrainingError("\(path): cannot be read; pass run directories written by concord train")
            }
            var points: [(epoch: Int, value: Double)] = []
            for (number, line) in text.split(separator: "\n").enumerated() {
                guard let record = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                    throw TrainingError("\(path):\(number + 1): not a JSON object; the file is damaged")
                }
                seen.formUnion(record.keys)
                if let epoch = record["epoch"] as? Int, let value = Self.number(record[metric]), value.isFinite {
                    points.append((epoch, value))
                }
            }
            series.append(Series(name: (run as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? run, points: points))
        }
        guard series.contains(where: { !$0.points.isEmpty }) else {
            let names = seen.subtracting(["epoch", "iteration", "ranks"]).sorted().joined(separator: ", ")
            throw TrainingError("no record of \(runs.joined(separator: ", ")) has '\(metric)'; choose one of: \(names)")
        }
        self.metric = metric
        self.series = series
    }

    /// A JSON number as a double (JSONSerialization gives integers and doubles apart).
    private static func number(_ value: Any?) -> Double? {
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        return nil
    }

    /// One line per run: its last and best value (highest for an accuracy, lowest otherwise).
    public var summary: [String] {
        let higherIsBetter = metric.hasSuffix("acc") || metric.hasSuffix("accuracy")
        return series.map { s in
            guard let last = s.points.last else { return "\(s.name): no '\(metric)'" }
            let best = (higherIsBetter ? s.points.max { $0.value < $1.value } : s.points.min { $0.value < $1.value }) ?? last
            return "\(s.name): \(metric) \(SchedulePlot.format(last.value)) at epoch \(last.epoch), best \(SchedulePlot.format(best.value)) at epoch \(best.epoch)"
        }
    }

    /// The chart: epochs on x, one shared vertical scale fitted to the values, a curve and
    /// dots per run, and above them the legend with each run's last value.
    public func svg(title: String) -> String {
        let width = 900.0, height = 460.0, left = 80.0, right = 30.0, top = 60.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
        let all = series.flatMap(\.points)
        let lastEpoch = max(all.map(\.epoch).max() ?? 1, 1)
        var low = all.map(\.value).min() ?? 0, high = all.map(\.value).max() ?? 1
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
        let axis = Self.roundAxis(low, high)
        (low, high) = (axis.low, axis.high)
        func x(_ epoch: Int) -> Double { left + plotW * Double(epoch) / Double(lastEpoch) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - low) / (high - low)) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(SchedulePlot.escape(title))</text>
            <rect x="\(left)" y="\(top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#888"/>

            """
        for k in 0...Int(((high - low) / axis.step).rounded()) {
            let v = low + axis.step * Double(k), py = y(v)
            out += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(left + plotW)\" y2=\"\(py)\" stroke=\"#eee\"/>"
            out += "<text x=\"\(left - 8)\" y=\"\(py + 4)\" text-anchor=\"end\">\(String(format: "%.\(axis.decimals)f", v))</text>\n"
        }
        let every = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].first { lastEpoch / $0 <= 12 } ?? max(1, lastEpoch / 12)
        for e in stride(from: 0, through: lastEpoch, by: every) {
            out += "<text x=\"\(x(e))\" y=\"\(top + plotH + 20)\" text-anchor=\"middle\">\(e)</text>\n"
        }
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">epoch</text>\n"
        out += "<text x=\"18\" y=\"\(top + plotH / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(top + plotH / 2))\">\(SchedulePlot.escape(metric))</text>\n"
        var slot = 0.0
        for (k, s) in series.enumerated() where !s.points.isEmpty {
            let color = colors[k % colors.count]
            let points = s.points.map { String(format: "%.1f,%.1f", x($0.epoch), y($0.value)) }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            for p in s.points { out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" ", x(p.epoch), y(p.value)) + "fill=\"\(color)\"/>" }
            let legend = "\(s.name): \(SchedulePlot.format(s.points[s.points.count - 1].value))"
            // The legend sits in a row above the chart, where no curve can run under it.
            out += "\n<text x=\"\(left + 200 * slot)\" y=\"\(top - 10)\" fill=\"\(color)\">\(SchedulePlot.escape(legend))</text>\n"
            slot += 1
        }
        return out + "</svg>\n"
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
