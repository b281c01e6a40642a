import Config
import Foundation
import TestSupport
import XCTest

/// `Hostfile`: what launch/cluster hands to mpirun, and one clear line for every bad file.
final class HostfileTests: XCTestCase {
    private func error(_ text: String) -> String {
        do {
            _ = try Hostfile(text: text, source: "hosts")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testReadsNodesSlotsCommentsAndBlankLines() throws {
        let file = try Hostfile(text: "# the cluster\nnode1 slots=4\n\n  node2\tslots=2 max_slots=8  # spare\r\nnode-3.example.org\n", source: "hosts")
        XCTAssertEqual(file.nodes.map(\.host), ["node1", "node2", "node-3.example.org"])
        XCTAssertEqual(file.nodes.map(\.slots), [4, 2, 1])
        XCTAssertEqual(file.nodes.map(\.line), [2, 4, 5])
        XCTAssertEqual(file.slotCount, 7)
        XCTAssertEqual(Hostfile.render(file.nodes), "node1 slots=4\nnode2 slots=2 max_slots=8\nnode-3.example.org slots=1\n")
        XCTAssertEqual(Hostfile.render(file.without(["node2"])), "node1 slots=4\nnode-3.example.org slots=1\n")
    }

    func testEveryBadLineIsOneErrorNamingFileAndLine() {
        let cases: [(String, String)] = [
            ("a slots=1\nb slots=two\n", "hosts:2: slots='two' is not a whole number"),
            ("a slots=1\nb slots=2\na\n", "hosts:3: host 'a' is listed again (first on line 1)"),
            ("a slots=0\n", "hosts:1: slots='0'"),
            ("a slots=99999999999999999999999\n", "hosts:1: slots="),
            ("a slots=2 slots=3\n", "hosts:1: slots= is given twice"),
            ("a slots=4 max_slots=2\n", "hosts:1: slots=4 is more than max_slots=2"),
            ("a cpus=4\n", "hosts:1: 'cpus=4' is not slots=N"),
            ("a slots\n", "hosts:1: 'slots' is not slots=N"),
            ("a/b slots=1\n", "hosts:1: 'a/b slots=1' does not start with a host name"),
            ("a\u{1B}[2J slots=1\n", "does not start with a host name"),
            ("# nothing\n\n", "hosts: the hostfile lists no hosts"),
            ("a slots=1048576\nb slots=1\n", "hosts:2: more than 1048576 slots in all"),
        ]
        for (text, expected) in cases {
            let message = error(text)
            XCTAssertTrue(message.contains(expected), "\(text.debugDescription): \(message)")
            XCTAssertFalse(message.contains("\n") || message.contains("\u{1B}"), message)
        }
    }

    func testFilesThatAreNotHostfilesAreRefusedWithoutReadingThemWhole() throws {
        let directory = try makeTemporaryDirectory(self)
        for (path, expected) in [(directory.path, "cannot be read"), ("/dev/zero", "cannot be read"), ("/nonexistent/hosts", "cannot be read")] {
            XCTAssertThrowsError(try Hostfile(contentsOf: path)) { XCTAssertTrue("\($0)".contains(expected), "\(path): \($0)") }
        }
        let big = try writeFile(String(repeating: "# padding\n", count: Hostfile.maximumBytes / 10 + 1), named: "big", in: directory)
        XCTAssertThrowsError(try Hostfile(contentsOf: big)) { XCTAssertTrue("\($0)".contains("more than a hostfile's"), "\($0)") }
        let binary = directory.appendingPathComponent("binary").path
        FileManager.default.createFile(atPath: binary, contents: Data([0x61, 0xFF, 0xFE, 0x0A]))
        XCTAssertThrowsError(try Hostfile(contentsOf: binary)) { XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)") }
        let good = try writeFile("a slots=2\n", named: "hosts", in: directory)
        XCTAssertEqual(try Hostfile(contentsOf: good).slotCount, 2)
    }
}
