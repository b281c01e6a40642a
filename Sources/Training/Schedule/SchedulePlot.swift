import Foundation

/// An SVG line chart of schedules over the iterations of a run, for a person to look at.
public enum SchedulePlot {
    /// One curve: its name, colour, and the schedule it draws.
    public struct Curve {
        public let name: String
        public let color: String
        public let schedule: Schedule
    }

    /// The chart: each curve on its own vertical scale (0 to its maximum, labelled on the
    /// left for the first curve and on the right for the second), epochs marked on the x axis.
    public static func svg(_ curves: [Curve], iterations: Int, iterationsPerEpoch: Int, title: String) -> String {
        let width = 900.0, height = 420.0, left = 80.0, right = 80.0, top = 40.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let samples = min(iterations, 1200)
        func x(_ i: Int) -> Double { left + plotW * Double(i) / Double(max(iterations, 1)) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
            <rect x="\(left)" y="\(top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#888"/>

            """
        // Epoch ticks (at most ~12 labels).
        let epochs = max(1, iterations / max(iterationsPerEpoch, 1))
        let every = max(1, epochs / 12)
        for e in stride(from: 0, through: epochs, by: every) {
            let px = x(e * iterationsPerEpoch)
            out += "<line x1=\"\(px)\" y1=\"\(top + plotH)\" x2=\"\(px)\" y2=\"\(top + plotH + 5)\" stroke=\"#888\"/>"
            out += "<text x=\"\(px)\" y=\"\(top + plotH + 20)\" text-anchor=\"middle\">\(e)</text>\n"
        }
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">epoch (\(iterations) iterations)</text>\n"
        for (k, curve) in curves.enumerated() {
            let values = (0...samples).map { curve.schedule.value(at: $0 * iterations / max(samples, 1)) }
            let top_ = max(values.max() ?? 1, 1e-12)
            func y(_ v: Double) -> Double { top + plotH * (1 - v / top_) }
            let points = values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset * iterations / max(samples, 1)), y($0.element)) }
            out += "<polyline fill=\"none\" stroke=\"\(curve.color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            let axisX = k == 0 ? left - 8 : left + plotW + 8, anchor = k == 0 ? "end" : "start"
            for f in [0.0, 0.5, 1.0] {
                out += "<text x=\"\(axisX)\" y=\"\(y(top_ * f) + 4)\" text-anchor=\"\(anchor)\" fill=\"\(curve.color)\">\(format(top_ * f))</text>\n"
            }
            out += "<text x=\"\(left + 10 + Double(k) * 200)\" y=\"\(top + 16)\" fill=\"\(curve.color)\">\(escape(curve.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    static func format(_ v: Double) -> String { v == 0 ? "0" : String(format: "%.3g", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
