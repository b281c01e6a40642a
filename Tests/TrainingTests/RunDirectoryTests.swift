import Training
import Config
import Foundation
import TestSupport
import XCTest

/// `RunDirectory` and the JSON it writes.
final class RunDirectoryTests: XCTestCase {
    func testCreateMakesParentsAndWritesTheResolvedConfig() throws {
        let root = try makeTemporaryDirectory(self)
        var config = TrainConfig()
        config.train.epochs = 3
        config.run.dir = root.appendingPathComponent("a/b/run").path
        let run = try RunDirectory.create(for: config)
        XCTAssertEqual(run.path, config.run.dir)
        XCTAssertEqual(try ConfigLoader.load(path: run.configPath), config)
        XCTAssertEqual(run.checkpointsPath, config.run.dir + "/checkpoints")
    }

    func testMetricsAreOneSortedJSONObjectPerLine() throws {
        let root = try makeTemporaryDirectory(self)
        let run = try RunDirectory(path: root.appendingPathComponent("run").path)
        try run.appendMetrics(["loss": 0.25, "iteration": 50, "epoch": 1, "phase": "train"])
        try run.appendMetrics(["acc": 0.875, "note": "say \"hi\"\n", "nan": .double(.nan), "ok": true])

        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 3, text)  // two records and the final newline
        XCTAssertEqual(lines[0], #"{"epoch":1,"iteration":50,"loss":0.25,"phase":"train"}"#)

        let second = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        XCTAssertEqual(second["acc"] as? Double, 0.875)
        XCTAssertEqual(second["note"] as? String, "say \"hi\"\n")
        XCTAssertTrue(second["nan"] is NSNull)
        XCTAssertEqual(second["ok"] as? Bool, true)
    }

    func testReopeningAppendsInsteadOfTruncating() throws {
        let root = try makeTemporaryDirectory(self)
        let path = root.appendingPathComponent("run").path
        do {
            let run = try RunDirectory(path: path)
            try run.appendMetrics(["iteration": 1])
            try run.appendLog("first")
        }
        let resumed = try RunDirectory(path: path)
        try resumed.appendMetrics(["iteration": 2])
        try resumed.appendLog("second\n")
        XCTAssertEqual(try String(contentsOfFile: resumed.metricsPath, encoding: .utf8),
                       "{\"iteration\":1}\n{\"iteration\":2}\n")
        XCTAssertEqual(try String(contentsOfFile: resumed.logPath, encoding: .utf8), "first\nsecond\n")
    }

    func testLinesAreVisibleImmediately() throws {
        // Someone tailing metrics.jsonl (or a crash) must see every returned record.
        let root = try makeTemporaryDirectory(self)
        let run = try RunDirectory(path: root.path)
        try run.appendLog("visible")
        XCTAssertEqual(try String(contentsOfFile: run.logPath, encoding: .utf8), "visible\n")
    }

    func testUncreatableDirectoryNamesThePathAndTheFix() throws {
        let root = try makeTemporaryDirectory(self)
        let file = try writeFile("x", named: "file", in: root)
        // Under a regular file: fails even for root, unlike a permissions test.
        assertError(TrainingError.self, try RunDirectory(path: file + "/run"),
                contains: ["cannot create run directory '\(file)/run'", "--set run.dir="])
        assertError(TrainingError.self, try RunDirectory(path: file),
                contains: ["'\(file)' exists but is not a directory", "--set run.dir="])
    }

    func testMetricValueJSON() {
        XCTAssertEqual(MetricValue.double(1e-5).json, "1e-05")
        XCTAssertEqual(MetricValue.double(-.infinity).json, "null")
        XCTAssertEqual(MetricValue.int(-3).json, "-3")
        XCTAssertEqual(MetricValue.string("a\u{01}b").json, #""a\u0001b""#)
        XCTAssertEqual(MetricValue.bool(false).json, "false")
    }
}
