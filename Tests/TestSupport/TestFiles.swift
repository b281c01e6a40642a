import Foundation
import XCTest

/// The package root, found from this file so tests can read the shipped `configs/`.
public let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The PyTorch-computed golden cases kept in the repository (`Tests/ToolsTests/Golden`).
public let goldenCasesDirectory = packageRoot.appendingPathComponent("Tests/ToolsTests/Golden").path

/// A fresh, empty directory under the system temp dir, removed when the test ends.
public func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Writes `text` to `name` inside `directory` and returns the file's path.
public func writeFile(_ text: String, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
}
