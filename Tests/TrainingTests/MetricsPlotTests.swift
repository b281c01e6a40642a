import TestSupport
import Training
import XCTest

/// `MetricsPlot` reads keys from several runs' metrics.jsonl and draws a panel per key.
final class MetricsPlotTests: XCTestCase {
    private func run(_ name: String, _ lines: [String], in directory: URL) throws -> String {
        let dir = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = try writeFile(lines.joined(separator: "\n") + "\n", named: "metrics.jsonl", in: dir)
        return dir.path
    }

    func testReadsTheMetricOfEveryRunInEpochOrderAndDrawsOneCurveEach() throws {
        let tmp = try makeTemporaryDirectory(self)
        let a = try run("simclr", [#"{"epoch":1,"train_loss":4.2}"#, #"{"epoch":2,"knn_acc":0.80,"train_loss":3.3}"#,
                                   #"{"epoch":4,"knn_acc":0.83,"train_loss":3.0}"#], in: tmp)
        let b = try run("mocov3", [#"{"epoch":2,"knn_acc":0.76}"#, #"{"epoch":4,"knn_acc":0.79}"#, #"{"epoch":6,"knn_acc":0.78}"#], in: tmp)
        let plot = try MetricsPlot(runs: [a, b + "/"], metrics: ["knn_acc"])
        XCTAssertEqual(plot.runNames, ["simclr", "mocov3"])
        let series = plot.panels[0].series
        XCTAssertEqual(series.map(\.name), ["simclr", "mocov3"])
        XCTAssertEqual(series[0].points.map(\.epoch), [2, 4])
        XCTAssertEqual(series[1].points.map(\.value), [0.76, 0.79, 0.78])
        XCTAssertEqual(plot.summary[1], "mocov3: knn_acc 0.78 at epoch 6, best 0.79 at epoch 4")
        let svg = plot.svg(title: "kNN")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 5)
        XCTAssertTrue(svg.contains(">simclr<") && svg.contains(">mocov3<") && svg.contains(">0.78<") && svg.contains(">0.83<"), svg)
        let loss = try MetricsPlot(runs: [a], metrics: ["train_loss"])
        XCTAssertEqual(loss.summary, ["simclr: train_loss 3 at epoch 4, best 3 at epoch 4"])
    }

    func testSeveralMetricsArePanelsOnOneEpochAxisAndTheDefaultsAreTheUsualOnes() throws {
        let tmp = try makeTemporaryDirectory(self)
        let a = try run("a", [#"{"epoch":1,"train_loss":2.0,"lr":0.1}"#, #"{"epoch":2,"train_loss":1.5,"knn_acc":0.7,"lr":0.05}"#], in: tmp)
        let b = try run("b", [#"{"epoch":10,"train_loss":1.0}"#], in: tmp)
        let plot = try MetricsPlot(runs: [a, b], metrics: ["train_loss", "knn_acc"])
        XCTAssertEqual(plot.panels.map(\.metric), ["train_loss", "knn_acc"])
        XCTAssertEqual(plot.panels[1].series[1].points.count, 0, "b has no knn_acc: no curve there")
        let svg = plot.svg(title: "t")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3)
        XCTAssertEqual(svg.components(separatedBy: ">10</text>").count - 1, 2, "both panels run to epoch 10")
        XCTAssertEqual(try MetricsPlot(runs: [a, b]).panels.map(\.metric), ["train_loss", "knn_acc"])
        let onlyLR = try run("c", [#"{"epoch":1,"lr":0.1}"#], in: tmp)
        XCTAssertThrowsError(try MetricsPlot(runs: [onlyLR])) { XCTAssertTrue("\($0)".contains("name metrics with --metrics, one of: lr"), "\($0)") }
    }

    func testTheValueAxisEndsOnRoundNumbers() throws {
        let knn = MetricsPlot.roundAxis(0.8045, 0.8357)
        assertClose([knn.low, knn.high, knn.step].map { Float($0) }, [0.80, 0.84, 0.01], rtol: 1e-6, atol: 1e-7)
        XCTAssertEqual(knn.decimals, 2)
        let loss = MetricsPlot.roundAxis(0.355, 0.4574)
        assertClose([loss.low, loss.high, loss.step].map { Float($0) }, [0.34, 0.46, 0.02], rtol: 1e-6, atol: 1e-7)
        let wide = MetricsPlot.roundAxis(0, 7.3)
        assertClose([wide.low, wide.high, wide.step].map { Float($0) }, [0, 8, 2], rtol: 1e-6, atol: 1e-7)
        XCTAssertEqual(wide.decimals, 0)
        XCTAssertEqual(MetricsPlot.roundAxis(0.2, 0.33).decimals, 3, "a step of 0.025 needs three decimals")
        let tmp = try makeTemporaryDirectory(self)
        let a = try run("a", [#"{"epoch":2,"knn_acc":0.8045}"#, #"{"epoch":26,"knn_acc":0.8357}"#], in: tmp)
        let svg = try MetricsPlot(runs: [a], metrics: ["knn_acc"]).svg(title: "kNN")
        for label in [">0.80<", ">0.82<", ">0.84<", ">0<", ">10<", ">25<"] { XCTAssertTrue(svg.contains(label), label) }
    }

    func testAMissingMetricNamesTheOnesThereAndABadFileNamesItself() throws {
        let tmp = try makeTemporaryDirectory(self)
        let a = try run("a", [#"{"epoch":1,"train_loss":1.5,"test_acc":0.5}"#], in: tmp)
        XCTAssertThrowsError(try MetricsPlot(runs: [a], metrics: ["knn_acc"])) { error in
            XCTAssertTrue("\(error)".contains("choose one of: test_acc, train_loss"), "\(error)")
        }
        XCTAssertThrowsError(try MetricsPlot(runs: [tmp.appendingPathComponent("none").path], metrics: ["knn_acc"])) { error in
            XCTAssertTrue("\(error)".contains("none/metrics.jsonl: cannot be read"), "\(error)")
        }
        let broken = try run("broken", ["{\"epoch\":1", "x"], in: tmp)
        XCTAssertThrowsError(try MetricsPlot(runs: [broken], metrics: ["knn_acc"])) { error in
            XCTAssertTrue("\(error)".contains("metrics.jsonl:1: not a JSON object"), "\(error)")
        }
    }
}
