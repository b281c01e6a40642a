import Foundation

/// Data files in the formats Concord reads, written from the formats' specifications (not by
/// the readers under test): NumPy `.npy` (format 1.0), `.npz` (a ZIP of stored members, with
/// the Zip64 local extra `numpy.savez` writes) and CIFAR's binary batches.
public enum DataFiles {
    /// A `.npy` image: magic, version 1.0, the header dict padded with spaces and a newline to
    /// a multiple of 64 bytes, then `data`.
    public static func npy(descr: String, shape: [Int], data: [UInt8], fortran: Bool = false) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let length = UInt16(header.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + data
    }

    /// A `.npz`: each member under `name.npy`, stored, or compressed with `deflate` (raw
    /// deflate, as `numpy.savez_compressed` writes).
    public static func npz(_ members: [(name: String, npy: [UInt8])], deflate: (([UInt8]) -> [UInt8])? = nil) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
        func le64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(v >> (8 * $0) & 0xFF) } }
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in members {
            let file = Array((name + ".npy").utf8), crc = crc32(data), offset = out.count
            let stored = deflate.map { $0(data) } ?? data, method = deflate == nil ? 0 : 8
            let zip64 = le16(1) + le16(16) + le64(data.count) + le64(stored.count)
            out += le32(0x0403_4B50) + le16(45) + le16(0) + le16(method) + le16(0) + le16(0x21) + le32(Int(crc))
                + le32(stored.count) + le32(data.count) + le16(file.count) + le16(zip64.count) + file + zip64 + stored
            central += le32(0x0201_4B50) + le16(45) + le16(45) + le16(0) + le16(method) + le16(0) + le16(0x21) + le32(Int(crc))
                + le32(stored.count) + le32(data.count) + le16(file.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
                + le32(offset) + file
        }
        let directory = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(members.count) + le16(members.count) + le32(central.count)
            + le32(directory) + le16(0)
        return out
    }

    /// CRC-32 (IEEE, reflected 0xEDB88320), as ZIP uses.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// A CIFAR-10 batch: per image its label byte then 3072 pixels (R, G, B planes of 32×32).
    public static func cifar10Batch(labels: [Int], pixels: (Int) -> [UInt8]) -> [UInt8] {
        labels.enumerated().flatMap { i, label in [UInt8(label)] + pixels(i) }
    }

    /// Writes `bytes` to `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
