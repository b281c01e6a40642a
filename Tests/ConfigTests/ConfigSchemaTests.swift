@testable import Config
import Yams
import TestSupport
import XCTest

/// `ConfigSchema`: the key table and string quoting.
final class ConfigSchemaTests: XCTestCase {
    func testKeysAreUniqueAndInKnownSections() {
        XCTAssertEqual(Set(ConfigSchema.keys).count, ConfigSchema.fields.count)
        for field in ConfigSchema.fields {
            XCTAssertTrue(ConfigSchema.sections.contains(field.section), field.key)
            XCTAssertFalse(field.name.isEmpty, field.key)
        }
        XCTAssertEqual(ConfigSchema.fields.count, 139)
    }

    func testQuotingKeepsSimpleStringsPlainAndQuotesTheRest() throws {
        XCTAssertEqual(ConfigSchema.quote("resnet20"), "resnet20")
        XCTAssertEqual(ConfigSchema.quote("/usr/share/datasets/fashion-mnist"), "/usr/share/datasets/fashion-mnist")
        for tricky in ["true", "No", "null", "~", "", "123", "1e5", "-x", ".5", "a b", "a: b", "#c",
                       "[1]", "quote\"d", "back\\slash", "tab\there", "new\nline", "bell\u{07}", "ü"] {
            let rendered = ConfigSchema.quote(tricky)
            let node = try XCTUnwrap(try Yams.compose(yaml: "k: \(rendered)")?.mapping?["k"], rendered)
            XCTAssertEqual(node.scalar?.string, tricky, "\(tricky) rendered as \(rendered)")
            if ["true", "No", "null", "~", "", "123", "1e5"].contains(tricky) {
                XCTAssertTrue(rendered.hasPrefix("\""), "\(tricky) must be quoted")
            }
        }
    }

    func testDoublesRenderToTextThatReadsBackExactly() {
        for value in [0.1, 5e-4, 1e-8, 0.3 + 1e-17, 1.0, 123456789.125, 1e300, 2.5e-20, -3e-9] {
            XCTAssertEqual(Double(ConfigSchema.render(value)), value)
        }
        // Exponent forms carry a '.' so YAML 1.1 readers (PyYAML) see a float, not a string.
        XCTAssertEqual(ConfigSchema.render(1e-8), "1.0e-08")
        XCTAssertEqual(ConfigSchema.render(2.5e-20), "2.5e-20")
        XCTAssertEqual(ConfigSchema.render(0.1), "0.1")
    }
}
