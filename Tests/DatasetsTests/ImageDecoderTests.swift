import Datasets
import Foundation
import TestSupport
import XCTest

/// PNG and JPEG decoding against PIL (torchvision's decoder), the resize against torchvision's
/// `Resize` + `CenterCrop`, and every damaged file refused naming the file.
final class ImageDecoderTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws { scratch = try makeTemporaryDirectory(self) }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// 8×8 RGB and gray JPEGs written by PIL 13.0 at quality 90, and PIL's decoded pixels.
    static let rgbJPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDj/h7+zd/qv9F9P4aKKK/OuNPEDP8A+16n778/8z1PDzirNP7CpfvP6sf/2Q=="
    static let rgbPixels: [UInt8] = [0, 3, 230, 20, 8, 228, 52, 6, 216, 81, 6, 197, 112, 8, 179, 141, 8, 162, 170, 7, 150, 189, 11, 149, 9, 26, 228, 29, 31, 227, 60, 30, 214, 90, 28, 197, 120, 30, 177, 150, 31, 161, 179, 30, 150, 198, 34, 147, 11, 56, 211, 31, 61, 209, 62, 60, 196, 90, 59, 178, 123, 61, 160, 152, 60, 143, 181, 60, 131, 200, 64, 130, 10, 86, 196, 31, 90, 194, 60, 89, 181, 90, 88, 163, 121, 91, 145, 150, 90, 128, 179, 89, 115, 199, 93, 113, 9, 118, 187, 28, 122, 184, 59, 121, 172, 89, 119, 155, 120, 122, 135, 149, 121, 118, 178, 120, 106, 197, 125, 103, 8, 146, 174, 28, 150, 171, 59, 149, 157, 87, 148, 140, 120, 151, 120, 148, 150, 103, 178, 149, 91, 198, 154, 89, 12, 175, 156, 31, 179, 153, 62, 178, 139, 91, 178, 123, 123, 180, 103, 152, 179, 86, 181, 178, 73, 201, 183, 71, 21, 198, 154, 40, 202, 152, 72, 200, 139, 101, 200, 120, 132, 202, 103, 161, 202, 84, 191, 200, 73, 212, 205, 72]
    static let grayJPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AOC/ZJ+En/Hl+59O1f/Z"
    static let grayPixels: [UInt8] = [1, 20, 41, 61, 80, 100, 121, 140, 10, 29, 51, 70, 90, 109, 131, 150, 21, 39, 61, 80, 100, 119, 141, 160, 30, 49, 71, 90, 110, 129, 151, 170, 41, 60, 81, 100, 120, 140, 161, 180, 50, 69, 91, 110, 130, 149, 171, 190, 61, 80, 101, 120, 140, 160, 181, 200, 70, 89, 111, 130, 150, 169, 191, 209]

    func testJPEGsDecodeToPILsPixels() throws {
        let decoder = ImageDecoder()
        let rgb = try decoder.decode(contentsOf: try file("rgb.jpg", Array(try XCTUnwrap(Data(base64Encoded: Self.rgbJPEG)))))
        XCTAssertEqual([rgb.channels, rgb.height, rgb.width], [3, 8, 8])
        XCTAssertEqual(rgb.pixels, Self.rgbPixels)
        let gray = try decoder.decode(contentsOf: try file("gray.JPG", Array(try XCTUnwrap(Data(base64Encoded: Self.grayJPEG)))))
        XCTAssertEqual([gray.channels, gray.height, gray.width], [1, 8, 8])
        XCTAssertEqual(gray.pixels, Self.grayPixels)
    }

    func testPNGsRoundTripGrayAndRGB() throws {
        var gray = PNGImage(width: 5, height: 3)
        gray.pixels = (0..<15).map { UInt8($0 * 17) }
        let g = try ImageDecoder().decode(contentsOf: try file("g.png", gray.encoded()))
        XCTAssertEqual(g, DecodedImage(channels: 1, height: 3, width: 5, pixels: gray.pixels))
        var rgb = PNGImage(width: 2, height: 3, channels: 3)
        rgb.pixels = (0..<18).map { UInt8(255 - $0 * 13) }
        let c = try ImageDecoder().decode(contentsOf: try file("c.png", rgb.encoded()))
        XCTAssertEqual(c, DecodedImage(channels: 3, height: 3, width: 2, pixels: rgb.pixels))
        // Planar for the data set, gray → RGB by repetition, RGB → gray as PIL's luma.
        var planes: [UInt8] = []
        c.appendPlanar(to: &planes)
        XCTAssertEqual(Array(planes[0..<6]), stride(from: 0, to: 18, by: 3).map { rgb.pixels[$0] })
        XCTAssertEqual(g.converted(toChannels: 3).pixels, gray.pixels.flatMap { [$0, $0, $0] })
        let luma = c.converted(toChannels: 1).pixels[0]
        XCTAssertEqual(luma, 244, "PIL 13's Image.new('RGB', (1, 1), (255, 242, 229)).convert('L')")
    }

    func testDamagedFilesAreRefusedNamingTheFile() throws {
        var picture = PNGImage(width: 16, height: 16)
        picture.pixels = (0..<256).map { UInt8($0) }
        let png = picture.encoded(), jpeg = Array(try XCTUnwrap(Data(base64Encoded: Self.rgbJPEG)))
        let cases: [(String, [UInt8], String)] = [
            ("cut.png", Array(png.prefix(png.count - 20)), "truncated or damaged PNG"),
            ("cut.jpg", Array(jpeg.prefix(jpeg.count - 40)), "truncated or damaged JPEG"),
            ("text.png", Array("not a picture".utf8), "neither PNG nor JPEG"),
            ("empty.jpeg", [], "an empty file"),
            ("crc.png", png.enumerated().map { $0.offset == 40 ? $0.element ^ 0xFF : $0.element }, "truncated or damaged PNG"),
        ]
        for (name, bytes, problem) in cases {
            let path = try file(name, bytes)
            XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("'\(path)'") && text.contains(problem), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: scratch.path + "/missing.png")) { error in
            XCTAssertTrue("\(error)".contains("missing.png': cannot read it"), "\(error)")
        }
    }

    /// torchvision `CenterCrop(8)(Resize(8)(img))` on a 12×20 ramp (PIL, bilinear, antialiased).
    func testResizeAndCentreCropFollowTorchvision() {
        let source = (0..<12).flatMap { y in (0..<20).map { x in UInt8(x * 10 + y * 5) } }
        let torchvision: [UInt8] = [35, 51, 66, 82, 97, 112, 128, 143, 42, 58, 73, 89, 104, 119, 135, 150, 49, 65, 80, 96, 111, 126, 142, 157,
                                    57, 73, 88, 104, 119, 134, 150, 165, 64, 80, 95, 111, 126, 141, 157, 172, 72, 88, 103, 119, 134, 149, 165, 180,
                                    79, 95, 110, 126, 141, 156, 172, 187, 86, 102, 117, 133, 148, 163, 179, 194]
        let out = DecodedImage(channels: 1, height: 12, width: 20, pixels: source).resizedAndCropped(to: 8)
        XCTAssertEqual([out.height, out.width], [8, 8])
        let worst = zip(out.pixels, torchvision).map { abs(Int($0) - Int($1)) }.max() ?? 99
        XCTAssertLessThanOrEqual(worst, 1, "\(out.pixels)")
        let square = DecodedImage(channels: 3, height: 8, width: 8, pixels: (0..<192).map { UInt8($0) })
        XCTAssertEqual(square.resizedAndCropped(to: 8), square, "the right size already: untouched")
        let up = DecodedImage(channels: 1, height: 4, width: 4, pixels: [UInt8](repeating: 77, count: 16)).resizedAndCropped(to: 9)
        XCTAssertEqual(up.pixels, [UInt8](repeating: 77, count: 81), "a flat image stays flat when enlarged")
    }
}
