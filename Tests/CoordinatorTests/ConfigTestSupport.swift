import Coordinator
import Foundation
import XCTest

/// The package root, found from this file so tests can read the shipped `configs/`.
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh, empty directory under the system temp dir, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("concord-coordinator-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Writes `text` to `name` inside `directory` and returns the file's path.
func writeFile(_ text: String, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
}

/// Asserts `body` throws a `CoordinatorError` whose one-line message contains every part.
/// Returns the message so tests can check more.
@discardableResult
func assertCoordinatorError<T>(_ body: @autoclosure () throws -> T, contains parts: [String],
                               file: StaticString = #filePath, line: UInt = #line) -> String? {
    do {
        let value = try body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
        return nil
    } catch let error as CoordinatorError {
        let message = error.description
        XCTAssertFalse(message.contains("\n"), "message is not one line: \(message)", file: file, line: line)
        for part in parts {
            XCTAssertTrue(message.contains(part), "'\(message)' does not contain '\(part)'", file: file, line: line)
        }
        return message
    } catch {
        XCTFail("expected CoordinatorError, got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}
