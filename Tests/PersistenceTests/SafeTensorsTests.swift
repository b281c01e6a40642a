@testable import Persistence
import Engine
import Foundation
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    /// The golden cases, copied into the repository next to the engine tests.
    static let goldenDirectory = goldenCasesDirectory

    var scratch: String = ""

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "safetensors-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        chmod(scratch, 0o755)
        try? FileManager.default.removeItem(atPath: scratch)
    }

    // MARK: Golden files

    /// Per file, computed independently in Python (struct + json, float64 sums of the stored
    /// values): F32 tensor count, I64 tensor count, F32 element count, sum of all F32 values,
    /// sum of all I64 values, metadata "op".
    static let goldenSummary: [(String, Int, Int, Int, Double, Int64, String)] = [
        ("avg_pool2d_k2_s2", 4, 0, 540, 10.416314194910228, 0, "avg_pool2d"),
        ("batch_norm1d_train", 12, 0, 240, 18.43892679642886, 0, "batch_norm"),
        ("batch_norm2d_eval", 10, 0, 1218, 55.33808677861816, 0, "batch_norm"),
        ("batch_norm2d_train", 12, 0, 1224, 127.33487322913425, 0, "batch_norm"),
        ("conv2d_1x1_s2", 6, 0, 1600, 18.292204436784232, 0, "conv2d"),
        ("conv2d_3x3_s1_p1_bias", 8, 0, 2492, -489.55188576551154, 0, "conv2d"),
        ("conv2d_3x3_s2_p1", 6, 0, 1840, -148.71973252273165, 0, "conv2d"),
        ("conv2d_4x4_s4_p0_bias", 8, 0, 4976, -129.93739915729748, 0, "conv2d"),
        ("cross_entropy", 4, 1, 122, 14.161410090498975, 26, "cross_entropy"),
        ("cross_entropy_smoothed", 4, 1, 122, -17.0011151348117, 18, "cross_entropy"),
        ("gelu", 4, 0, 240, 77.78505937862792, 0, "gelu"),
        ("global_avg_pool2d", 4, 0, 744, 11.698259217373561, 0, "global_avg_pool2d"),
        ("info_nce", 6, 0, 898, 5.489459098229418, 0, "info_nce"),
        ("l2_normalize", 4, 0, 160, -0.4406185494735837, 0, "l2_normalize"),
        ("layer_norm", 8, 0, 520, -17.23305179318413, 0, "layer_norm"),
        ("linear", 8, 0, 176, 23.0983915803954, 0, "linear"),
        ("log_softmax", 4, 0, 144, -174.1566257569939, 0, "log_softmax"),
        ("mae_step", 153, 0, 81684, 815.8619531653503, 0, "mae_step"),
        ("matmul", 6, 0, 108, -7.41068584099412, 0, "matmul"),
        ("max_pool2d_k2_s2", 4, 0, 540, 37.090643455740064, 0, "max_pool2d"),
        ("max_pool2d_k3_s2_p1", 4, 0, 520, 83.35780782054644, 0, "max_pool2d"),
        ("moco_v2_step", 509, 2, 1412313, 6425.683538295667, 8, "moco_v2_step"),
        ("moco_v3_step", 234, 0, 165889, -950.8163873047849, 0, "moco_v3_step"),
        ("mse_masked", 7, 0, 377, 8.89378577307798, 0, "mse_masked"),
        ("mse_masked_norm_pix", 7, 0, 377, 49.57499952607759, 0, "mse_masked"),
        ("multi_head_attention", 12, 0, 896, -20.32313111682015, 0, "multi_head_attention"),
        ("nt_xent", 6, 0, 194, -6.636020420817658, 0, "nt_xent"),
        ("relu", 4, 0, 240, 0.3960020989179611, 0, "relu"),
        ("resnet20_sgd_2steps", 282, 2, 832240, 2636.818335617849, 68, "resnet_sgd_step"),
        ("scaled_dot_product_attention", 8, 0, 640, 0.7510621781111695, 0, "scaled_dot_product_attention"),
        ("scaled_dot_product_attention_cross", 8, 0, 1728, 120.24911149498803, 0, "scaled_dot_product_attention"),
        ("schedule_multistep", 1, 0, 100, 13.288000155589543, 0, "schedule"),
        ("schedule_sgdr", 1, 0, 70, 3.683499980950728, 0, "schedule"),
        ("schedule_warmup_cosine", 1, 0, 100, 5.055000006743285, 0, "schedule"),
        ("softmax", 4, 0, 144, -1.226251628020691, 0, "softmax"),
        ("vit_adamw_2steps", 99, 2, 71520, -965.8553458604829, 76, "vit_adamw_step"),
    ]

    func testEveryGoldenFileReadsWithIndependentlyComputedSums() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDirectory)
            .filter { $0.hasSuffix(".safetensors") }
        XCTAssertEqual(files.count, Self.goldenSummary.count, "golden files changed; recompute the table")
        for (name, f32Count, i64Count, elements, sum, intSum, op) in Self.goldenSummary {
            let path = Self.goldenDirectory + "/\(name).safetensors"
            let st = try SafeTensors(contentsOf: path)
            XCTAssertEqual(st.count, f32Count + i64Count, name)
            XCTAssertEqual(st.metadata["op"], op, name)
            XCTAssertNotNil(st.metadata["rtol"], name)
            var total = 0.0, count = 0, ints: Int64 = 0, floats = 0, integers = 0
            for n in st.names {
                switch try st.dtype(n) {
                case .f32:
                    let t = try st.tensor(n)
                    XCTAssertEqual(t.shape, try st.shape(n))
                    for i in 0..<t.count { total += Double(t.data[i]) }
                    count += t.count
                    floats += 1
                case .i64:
                    ints += try st.int64s(n).reduce(0, +)
                    integers += 1
                default:
                    XCTFail("\(name): unexpected dtype for \(n)")
                }
            }
            XCTAssertEqual(floats, f32Count, name)
            XCTAssertEqual(integers, i64Count, name)
            XCTAssertEqual(count, elements, name)
            XCTAssertEqual(total, sum, accuracy: 1e-9 * max(1, abs(sum)), name)
            XCTAssertEqual(ints, intSum, name)
        }
    }

    func testGoldenSpotValues() throws {
        let matmul = try SafeTensors(contentsOf: Self.goldenDirectory + "/matmul.safetensors")
        // File order is kept, with __metadata__ (last in this file) not among the names.
        XCTAssertEqual(matmul.names, ["grad.a", "grad.b", "grad_out.y", "in.a", "in.b", "out.y"])
        XCTAssertEqual(matmul.metadata, ["op": "matmul", "attrs": "{}", "rtol": "0.0001", "atol": "1e-05"])
        let a = try matmul.tensor("in.a")
        XCTAssertEqual(a.shape, [3, 6])
        XCTAssertEqual(a[flat: 0], 0.7937488555908203)
        XCTAssertEqual(a[flat: 7], -0.04954512044787407)
        XCTAssertEqual(a[flat: 17], 1.6221706867218018)

        let ce = try SafeTensors(contentsOf: Self.goldenDirectory + "/cross_entropy.safetensors")
        XCTAssertEqual(try ce.int64s("in.target"), [0, 7, 5, 4, 4, 6])
        XCTAssertEqual(try ce.dtype("in.target"), .i64)
        XCTAssertEqual(try ce.shape("out.loss"), [])
        XCTAssertEqual(ce.metadata["attrs"], "{\"label_smoothing\": 0.0, \"reduction\": \"mean\"}")

        let resnet = try SafeTensors(contentsOf: Self.goldenDirectory + "/resnet20_sgd_2steps.safetensors")
        XCTAssertEqual(try resnet.tensor("out.loss").values, [2.4871606826782227, 2.679443120956421])
        let w = try resnet.tensor("param.layer3.2.conv2.weight")
        XCTAssertEqual(w.shape, [64, 64, 3, 3])
        XCTAssertEqual(w[flat: 0], 0.08784795552492142)
        XCTAssertEqual(w[flat: w.count - 1], -0.03312224894762039)

        let moco = try SafeTensors(contentsOf: Self.goldenDirectory + "/moco_v2_step.safetensors")
        XCTAssertEqual(moco.count, 511)
        let queue = try moco.tensor("buffer.queue")
        XCTAssertEqual(queue.shape, [64, 32])
        XCTAssertEqual(queue[flat: 0], 0.00669126957654953)
        XCTAssertEqual(queue[flat: 100], -0.17984366416931152)
        XCTAssertEqual(queue[flat: 2047], -0.20344994962215424)
        XCTAssertEqual(try moco.int64s("buffer.queue_ptr"), [0])
        XCTAssertEqual(try moco.int64s("after.buffer.queue_ptr"), [8])
    }

    func testLargeFileReadsQuickly() throws {
        let start = Date()
        let st = try SafeTensors(contentsOf: Self.goldenDirectory + "/moco_v2_step.safetensors")
        var elements = 0
        for n in st.names where try st.dtype(n) == .f32 { elements += try st.tensor(n).count }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(elements, 1_412_313)
        // Generous even for a debug build: the point is "no per-element appends" (which take far longer).
        XCTAssertLessThan(seconds, 2.0, "reading 5.7 MB took \(seconds) s")
    }

    func testReserializingAGoldenFileKeepsEveryValue() throws {
        let original = try SafeTensors(contentsOf: Self.goldenDirectory + "/cross_entropy.safetensors")
        let copy = try SafeTensors(bytes: original.serialized(), source: "copy")
        XCTAssertEqual(Set(copy.names), Set(original.names))
        XCTAssertEqual(copy.metadata, original.metadata)
        for n in original.names {
            XCTAssertEqual(try copy.dtype(n), try original.dtype(n))
            XCTAssertEqual(try copy.rawBytes(n), try original.rawBytes(n), n)
        }
    }

    // MARK: Other dtypes (hand-built files; expected values from Python's struct module)

    func testConvertsF64F16BF16AndReadsIntegerTypes() throws {
        var data: [UInt8] = []
        func put<T>(_ values: [T]) -> String {
            let begin = data.count
            values.withUnsafeBytes { data.append(contentsOf: $0) }
            return "[\(begin),\(data.count)]"
        }
        let f64 = put([1.5, -2.25, 1e-3, 3.0e38] as [Double])
        let f16 = put([0x3C00, 0xC100, 0x7BFF, 0x0400, 0x0001, 0x8000, 0x3555] as [UInt16])
        let bf16 = put([0x3F80, 0xC049, 0x4049] as [UInt16])
        let i32 = put([-7, 2_147_483_647] as [Int32])
        let u8 = put([0, 200, 255] as [UInt8])
        let bool = put([1, 0, 1, 1] as [UInt8])
        let header = """
            {"d":{"dtype":"F64","shape":[2,2],"data_offsets":\(f64)},
             "h":{"dtype":"F16","shape":[7],"data_offsets":\(f16)},
             "b":{"dtype":"BF16","shape":[3,1],"data_offsets":\(bf16)},
             "i":{"dtype":"I32","shape":[2],"data_offsets":\(i32)},
             "u":{"dtype":"U8","shape":[3],"data_offsets":\(u8)},
             "z":{"dtype":"BOOL","shape":[2,2],"data_offsets":\(bool)}}
            """
        let st = try SafeTensors(bytes: file(header: header, data: data), source: "dtypes.safetensors")
        XCTAssertEqual(st.names, ["d", "h", "b", "i", "u", "z"])
        let d = try st.tensor("d")
        XCTAssertEqual(d.shape, [2, 2])
        XCTAssertEqual(d.values, [1.5, -2.25, Float(1e-3), Float(3.0e38)])
        XCTAssertEqual(try st.tensor("h").values,
                       [1.0, -2.5, 65504.0, 6.103515625e-05, 5.960464477539063e-08, -0.0, 0.333251953125])
        XCTAssertEqual(try st.tensor("h")[flat: 5].sign, .minus)
        XCTAssertEqual(try st.tensor("b").values, [1.0, -3.140625, 3.140625])
        XCTAssertEqual(try st.tensor("b").shape, [3, 1])
        XCTAssertEqual(try st.int64s("i"), [-7, 2_147_483_647])
        XCTAssertEqual(try st.int64s("u"), [0, 200, 255])
        XCTAssertEqual(try st.int64s("z"), [1, 0, 1, 1])
        XCTAssertEqual(try st.rawBytes("z"), [1, 0, 1, 1])
        XCTAssertEqual(try st.dtype("h"), .f16)
        XCTAssertThrowsError(try st.tensor("i")) { assertMessage($0, ["dtypes.safetensors", "\"i\"", "I32"]) }
        XCTAssertThrowsError(try st.int64s("d")) { assertMessage($0, ["dtypes.safetensors", "\"d\"", "F64"]) }
    }

    func testHalfConversionCoversSpecialValues() {
        XCTAssertEqual(halfToFloat(0x7C00), .infinity)
        XCTAssertEqual(halfToFloat(0xFC00), -.infinity)
        XCTAssertTrue(halfToFloat(0x7E00).isNaN)
        XCTAssertEqual(halfToFloat(0x03FF), 6.097555160522461e-05)  // largest subnormal
        XCTAssertEqual(halfToFloat(0x0000), 0)
    }

    // MARK: Writing

    func testRoundTripF32I64AndMetadata() throws {
        var st = SafeTensors()
        let w = Tensor(shape: [2, 3], values: [1, -2.5, 3.25, .pi, -0.0, 1e-30])
        st.set("layer.weight", w)
        st.set("scalar", Tensor.scalar(42))
        st.set("empty", Tensor.zeros([0, 4]))
        st.set("labels", int64s: [-1, 0, Int64.max, Int64.min, 7, 9], shape: [3, 2])
        st.metadata = ["epoch": "3", "note": "quotes \" and \\ and\nnewline, ünïcode ✓"]
        XCTAssertEqual(st.names, ["layer.weight", "scalar", "empty", "labels"])
        st.set("scalar", Tensor.scalar(43))  // replace keeps position
        XCTAssertEqual(st.names, ["layer.weight", "scalar", "empty", "labels"])

        let path = scratch + "/model.safetensors"
        try st.write(to: path)
        let back = try SafeTensors(contentsOf: path)
        XCTAssertEqual(back.names, ["empty", "labels", "layer.weight", "scalar"])  // sorted on write
        XCTAssertEqual(back.metadata, st.metadata)
        XCTAssertEqual(try back.tensor("layer.weight").shape, [2, 3])
        XCTAssertEqual(try back.tensor("layer.weight").values, w.values)
        XCTAssertEqual(try back.tensor("layer.weight")[flat: 4].sign, .minus)
        XCTAssertEqual(try back.tensor("scalar").shape, [])
        XCTAssertEqual(try back.tensor("scalar").item, 43)
        XCTAssertEqual(try back.tensor("empty").shape, [0, 4])
        XCTAssertEqual(try back.int64s("labels"), [-1, 0, Int64.max, Int64.min, 7, 9])
        XCTAssertEqual(try back.shape("labels"), [3, 2])
        XCTAssertEqual(try back.dtype("labels"), .i64)
        XCTAssertEqual(try back.dtype("scalar"), .f32)
        XCTAssertTrue(back.contains("labels"))
        XCTAssertFalse(back.contains("missing"))

        // Deterministic, and stable through a read/write cycle.
        let bytes = st.serialized()
        XCTAssertEqual(bytes, st.serialized())
        XCTAssertEqual(back.serialized(), bytes)
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
        let headerText = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertTrue(headerText.hasPrefix("{\"__metadata__\":{\"epoch\":\"3\","), headerText)
        XCTAssertEqual(headerText.trimmingCharacters(in: .init(charactersIn: " ")).last, "}")

        var removed = back
        removed.remove("labels")
        XCTAssertEqual(removed.names, ["empty", "layer.weight", "scalar"])
        XCTAssertFalse(removed.contains("labels"))
    }

    func testSerializedBytesReadByIndependentPythonParser() throws {
        // python3 is part of every supported machine (launch/setup relies on Debian's base).
        let python = try XCTUnwrap(["/usr/bin/python3", "/usr/local/bin/python3"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }), "python3 is needed for the independent parser")

        var st = SafeTensors()
        st.set("b.bias", Tensor(shape: [3], values: [0.5, -1.25, 1e-7]))
        st.set("a.weight", Tensor(shape: [2, 2], values: [1, 2, 3, -4.75]))
        st.set("idx", int64s: [5, -3, 1 << 40], shape: [3])
        st.metadata = ["format": "pt", "k\"ey": "v\na✓"]
        let path = scratch + "/py.safetensors"
        try st.write(to: path)

        let script = #"""
        import json, struct, sys
        b = open(sys.argv[1], 'rb').read()
        n = struct.unpack('<Q', b[:8])[0]
        assert n % 8 == 0, 'header not 8-byte aligned'
        header = json.loads(b[8:8 + n].decode('utf-8'))
        keys = list(header.keys())
        data = b[8 + n:]
        meta = header.pop('__metadata__', {})
        out = {'keys': keys, 'metadata': meta, 'tensors': {}}
        end = 0
        for name, e in header.items():
            s, t = e['data_offsets']
            fmt = {'F32': 'f', 'I64': 'q'}[e['dtype']]
            size = struct.calcsize(fmt)
            assert s % size == 0, 'misaligned ' + name
            vals = struct.unpack('<%d%s' % ((t - s) // size, fmt), data[s:t])
            out['tensors'][name] = {'dtype': e['dtype'], 'shape': e['shape'], 'values': [repr(v) for v in vals]}
            end = max(end, t)
        assert end == len(data), 'data buffer not fully used'
        print(json.dumps(out))
        """#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path]
        let pipe = Pipe(), errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, errorText)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: output) as? [String: Any])
        XCTAssertEqual(json["keys"] as? [String], ["__metadata__", "a.weight", "b.bias", "idx"])
        XCTAssertEqual(json["metadata"] as? [String: String], st.metadata)
        let tensors = try XCTUnwrap(json["tensors"] as? [String: [String: Any]])
        func values(_ name: String) -> [String] { tensors[name]?["values"] as? [String] ?? [] }
        XCTAssertEqual(values("a.weight").compactMap(Float.init), [1, 2, 3, -4.75])
        XCTAssertEqual(values("b.bias").compactMap(Double.init).map(Float.init), [0.5, -1.25, 1e-7])
        XCTAssertEqual(values("idx").compactMap(Int64.init), [5, -3, 1 << 40])
        XCTAssertEqual(tensors["a.weight"]?["shape"] as? [Int], [2, 2])
        XCTAssertEqual(tensors["idx"]?["dtype"] as? String, "I64")
    }

    // MARK: Malformed input

    func testMissingTensorNamesTensorAndFile() throws {
        let st = try SafeTensors(contentsOf: Self.goldenDirectory + "/relu.safetensors")
        XCTAssertThrowsError(try st.tensor("in.nope")) { assertMessage($0, ["relu.safetensors", "\"in.nope\""]) }
        XCTAssertThrowsError(try st.int64s("in.nope")) { assertMessage($0, ["relu.safetensors", "\"in.nope\""]) }
        XCTAssertThrowsError(try st.shape("in.nope")) { assertMessage($0, ["relu.safetensors", "\"in.nope\""]) }
    }

    func testMalformedFilesThrowOneLineErrorsNamingTheFile() throws {
        let ok = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "too short"),
            ("short", [1, 0, 0], "too short"),
            ("beyond", [0xE8, 0x03, 0, 0, 0, 0, 0, 0] + Array("{}".utf8), "beyond the file"),
            ("huge length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], "beyond the file"),
            ("zero header", file(header: "", data: []), "invalid JSON"),
            ("truncated JSON", file(header: #"{"t":{"dtype":"F32""#, data: eight), "invalid JSON"),
            ("trailing garbage", file(header: ok + "x", data: eight), "invalid JSON"),
            ("bad escape", file(header: #"{"t\q":1}"#, data: []), "invalid JSON"),
            ("bad utf8", [5, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x22, 0xFF, 0x22, 0x7D], "invalid JSON"),
            ("deep nesting", file(header: String(repeating: "[", count: 100_000), data: []), "invalid JSON"),
            ("not object", file(header: "[1,2]", data: []), "not a JSON object"),
            ("entry not object", file(header: #"{"t":3}"#, data: []), "not an object"),
            ("missing dtype", file(header: #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight), "missing \"dtype\""),
            ("missing shape", file(header: #"{"t":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eight), "missing \"shape\""),
            ("missing offsets", file(header: #"{"t":{"dtype":"F32","shape":[2]}}"#, data: eight), "missing \"data_offsets\""),
            ("unknown dtype", file(header: #"{"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: eight), "unknown dtype \"Q7\""),
            ("negative dim", file(header: #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), "non-negative"),
            ("float dim", file(header: #"{"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eight), "non-negative"),
            ("overflow dims", file(header: #"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: eight), "overflow"),
            ("one offset", file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#, data: eight), "data_offsets"),
            ("out of bounds", file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: eight), "out of bounds"),
            ("huge offset", file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"#, data: eight), "data_offsets"),
            ("begin > end", file(header: #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: eight), "begin 8 > end 0"),
            ("length mismatch", file(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), "8 bytes but shape [3] of F32 needs 12"),
            ("length mismatch i64", file(header: #"{"t":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}"#, data: eight), "needs 16"),
            ("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "overlap"),
            ("duplicate", file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eight), "duplicate"),
            ("metadata value", file(header: #"{"__metadata__":{"epoch":3}}"#, data: []), "not a string"),
            ("metadata kind", file(header: #"{"__metadata__":[]}"#, data: []), "__metadata__"),
            ("newline in name", file(header: #"{"a\nb":{"dtype":"X","shape":[],"data_offsets":[0,0]}}"#, data: []), "unknown dtype"),
        ]
        for (label, bytes, fragment) in cases {
            let source = "case-\(label.replacingOccurrences(of: " ", with: "-")).safetensors"
            XCTAssertThrowsError(try SafeTensors(bytes: bytes, source: source), label) {
                assertMessage($0, [source, fragment], label)
            }
        }

        // Control: the valid variants of these headers read, including empty tensors sharing an offset.
        XCTAssertNoThrow(try SafeTensors(bytes: file(header: ok + "   ", data: eight), source: "ok"))
        let empties = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafeTensors(bytes: file(header: empties, data: eight), source: "ok"))
    }

    func testTruncatedGoldenFileOnDisk() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: Self.goldenDirectory + "/linear.safetensors"))
        let path = scratch + "/linear-truncated.safetensors"
        try original.prefix(original.count - 10).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensors(contentsOf: path)) { assertMessage($0, [path, "out of bounds"]) }
        try original.prefix(100).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensors(contentsOf: path)) { assertMessage($0, [path, "beyond the file"]) }
    }

    // MARK: Helpers

    /// A file with the given header text (no padding) and data buffer.
    func file(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var length = UInt64(h.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + h + data
    }

    func assertMessage(_ error: Error, _ fragments: [String], _ label: String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
        guard let e = error as? any UserInputError else {
            return XCTFail("\(label): not a UserInputError: \(error)", file: file, line: line)
        }
        XCTAssertFalse(e.description.contains("\n"), "\(label): multi-line: \(e.description)", file: file, line: line)
        for f in fragments {
            XCTAssertTrue(e.description.contains(f), "\(label): \"\(e.description)\" lacks \"\(f)\"", file: file, line: line)
        }
    }
}
