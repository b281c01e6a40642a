import Training
import Config
import TestSupport
import XCTest

/// `ProgressDisplay`, with captured output and a fake clock.
final class ProgressDisplayTests: XCTestCase {
    /// Collects what the display writes; the clock advances `step` seconds per reading.
    private final class Capture {
        var text = ""
        var now = 0.0
        let step: Double
        init(step: Double = 0.5) { self.step = step }
        func tick() -> Double { now += step; return now }
    }

    private func display(_ mode: ProgressMode, terminal: Bool, capture: Capture,
                         perEpoch: Int = 10, epochs: Int = 2, logEvery: Int = 4,
                         term: String? = "xterm") -> ProgressDisplay {
        ProgressDisplay(mode: mode, iterationsPerEpoch: perEpoch, epochs: epochs, logEvery: logEvery,
                        isTerminal: terminal, terminalType: term,
                        clock: { capture.tick() }, write: { capture.text += $0 })
    }

    func testStyleDependsOnModeAndTerminal() {
        let c = Capture()
        XCTAssertEqual(display(.auto, terminal: true, capture: c).style, .bar)
        XCTAssertEqual(display(.auto, terminal: false, capture: c).style, .plain)
        XCTAssertEqual(display(.auto, terminal: true, capture: c, term: "dumb").style, .plain)
        XCTAssertEqual(display(.bar, terminal: true, capture: c, term: "dumb").style, .bar)
        XCTAssertEqual(display(.bar, terminal: false, capture: c).style, .plain)
        XCTAssertEqual(display(.plain, terminal: true, capture: c).style, .plain)
        XCTAssertEqual(display(.none, terminal: true, capture: c).style, .silent)
    }

    func testPlainModePrintsALineEveryLogEveryIterations() {
        let capture = Capture()
        let progress = display(.plain, terminal: true, capture: capture)
        for i in 1...10 { progress.update(iteration: i, metrics: [("loss", 2.5 / Double(i)), ("acc", 0.5)]) }
        progress.finishEpoch(summary: "epoch 1 done: test acc 0.8123")
        for i in 11...20 { progress.update(iteration: i, metrics: [("loss", 0.1)]) }

        let lines = capture.text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6, capture.text)  // 4, 8, summary, 12, 16, 20
        XCTAssertFalse(capture.text.contains("\r"))
        // 3 iterations after the first one seen, 0.5 s per clock reading: 2 it/s.
        XCTAssertEqual(lines[0], "epoch 1/2 iter 4/10 2.00 it/s eta 0:03 (run 0:08) loss 0.6250 acc 0.5000")
        XCTAssertTrue(lines[1].hasPrefix("epoch 1/2 iter 8/10 "), lines[1])
        XCTAssertEqual(lines[2], "epoch 1 done: test acc 0.8123")
        XCTAssertTrue(lines[3].hasPrefix("epoch 2/2 iter 2/10 "), lines[3])
        XCTAssertTrue(lines[5].hasPrefix("epoch 2/2 iter 10/10 "), lines[5])
        XCTAssertFalse(lines[5].contains("(run"), "no run ETA in the last epoch")
    }

    func testNoneModePrintsNothing() {
        let capture = Capture()
        let progress = display(.none, terminal: true, capture: capture, logEvery: 1)
        for i in 1...20 { progress.update(iteration: i, metrics: [("loss", 1)]) }
        progress.finishEpoch(summary: "summary")
        progress.note("checkpoint saved")
        XCTAssertEqual(capture.text, "")
    }

    func testBarRedrawsOneLineAndEndsItBeforeTheSummary() {
        let capture = Capture()
        let progress = display(.bar, terminal: true, capture: capture, perEpoch: 4, epochs: 1)
        for i in 1...4 { progress.update(iteration: i, metrics: [("loss", 0.5)]) }
        progress.finishEpoch(summary: "done")
        let draws = capture.text.components(separatedBy: "\r\u{1B}[K").filter { !$0.isEmpty }
        XCTAssertEqual(draws.count, 4, capture.text)
        XCTAssertTrue(draws[0].hasPrefix("epoch 1/1 [=====>                  ] 1/4 -- it/s"), draws[0])
        XCTAssertTrue(draws[3].hasPrefix("epoch 1/1 [========================] 4/4 2.00 it/s eta 0:00"), draws[3])
        XCTAssertTrue(capture.text.hasSuffix("loss 0.5000\ndone\n"), capture.text)
    }

    func testBarIsThrottledButAlwaysDrawsTheEpochEnd() {
        let capture = Capture(step: 0.001)
        let progress = display(.auto, terminal: true, capture: capture, perEpoch: 100, epochs: 1)
        for i in 1...100 { progress.update(iteration: i, metrics: []) }
        let draws = capture.text.components(separatedBy: "\r").filter { !$0.isEmpty }
        XCTAssertEqual(draws.count, 2, "first draw and the epoch's last iteration only")
        XCTAssertTrue(draws.last?.contains("100/100") ?? false)
    }

    func testNoteKeepsTheBarIntact() {
        let capture = Capture()
        let progress = display(.bar, terminal: true, capture: capture, perEpoch: 4, epochs: 1)
        progress.update(iteration: 1, metrics: [])
        progress.note("checkpoint saved")
        XCTAssertTrue(capture.text.contains("\r\u{1B}[Kcheckpoint saved\nepoch 1/1 ["), capture.text)
    }

    func testMetricFormatting() {
        let capture = Capture()
        let progress = display(.plain, terminal: false, capture: capture, logEvery: 1)
        progress.update(iteration: 1, metrics: [("lr", 1e-5), ("loss", .nan), ("acc", 0)])
        XCTAssertTrue(capture.text.hasSuffix("lr 1.000e-05 loss nan acc 0.0000\n"), capture.text)
    }
}
