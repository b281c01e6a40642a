import Persistence
import Engine
import Foundation

/// Outcome of one golden case.
public struct GoldenResult {
    public enum Status: Equatable { case pass, fail, unsupported(String), error(String) }
    public let name: String
    public let op: String
    /// Worst error as a fraction of the tolerance (≤ 1 passes); nil when not run.
    public let worstRatio: Float?
    /// Which compared tensor had the worst error.
    public let worstTensor: String?
    public let status: Status
    /// Every compared tensor with its error / tolerance ratio.
    public var details: [(tensor: String, ratio: Float)] = []

    /// One table row: name, op, worst error / tolerance, status (`header` names the columns).
    public var line: String {
        let ratio = worstRatio.map { String(format: "%.3f", $0) } ?? "-"
        let verdict: String
        switch status {
        case .pass: verdict = "pass"
        case .fail: verdict = "FAIL (worst: \(worstTensor ?? "?"))"
        case .unsupported(let why): verdict = "unsupported: \(why)"
        case .error(let why): verdict = "ERROR: \(why)"
        }
        return Self.row(name, op, ratio, verdict)
    }

    /// The column titles of `line`.
    public static let header = row("case", "op", "err/tol", "result")

    /// Columns wide enough for the longest case and op names (never cut: a name is how a
    /// case is found).
    private static func row(_ name: String, _ op: String, _ ratio: String, _ verdict: String) -> String {
        func column(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s.padding(toLength: width, withPad: " ", startingAt: 0) }
        return column(name, 36) + column(op, 30) + column(ratio, 9) + verdict
    }
}

/// Runs golden cases: each case's tensors are recomputed by the engine and compared.
public enum GoldenRunner {
    /// Runs every `*.safetensors` case in `directory`, sorted by name.
    public static func run(directory: String) throws -> [GoldenResult] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw GoldenError("\(directory): no such directory; pass a folder of golden .safetensors files")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        if files.isEmpty { throw GoldenError("\(directory): no .safetensors files found") }
        return files.map { run(path: (directory as NSString).appendingPathComponent($0)) }
    }

    /// Runs one case file; never throws — problems become `.error` results.
    public static func run(path: String) -> GoldenResult {
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let c: GoldenCase
        do { c = try GoldenCase(path: path) } catch {
            return GoldenResult(name: name, op: "?", worstRatio: nil, worstTensor: nil, status: .error("\(error)"))
        }
        do {
            let comparisons: [(String, Tensor, Tensor)]
            switch c.op {
            case "resnet_sgd_step": comparisons = try GoldenModelCases.resnetSGDStep(c)
            case "schedule": comparisons = try GoldenModelCases.schedule(c)
            case "moco_v2_step": comparisons = try GoldenModelCases.mocoV2Step(c)
            case "vit_adamw_step": comparisons = try GoldenTransformerCases.vitAdamWStep(c)
            case "moco_v3_step": comparisons = try GoldenSelfSupervisedCases.mocoV3Step(c)
            case "mae_step": comparisons = try GoldenSelfSupervisedCases.maeStep(c)
            default:
                guard let op = GoldenOps.table[c.op] else {
                    return GoldenResult(name: c.name, op: c.op, worstRatio: nil, worstTensor: nil,
                                        status: .unsupported("op '\(c.op)' is not supported by this version of concord"))
                }
                comparisons = try GoldenOps.run(c, op)
            }
            guard !comparisons.isEmpty else {
                return GoldenResult(name: c.name, op: c.op, worstRatio: nil, worstTensor: nil,
                                    status: .error("the case has no out.* or grad.* tensors to compare"))
            }
            var worst: Float = 0
            var worstName: String?
            var details: [(tensor: String, ratio: Float)] = []
            for (label, actual, expected) in comparisons {
                let r = toleranceRatio(actual, expected, rtol: c.rtol, atol: c.atol)
                details.append((label, r))
                if r > worst || worstName == nil { worst = r; worstName = label }
            }
            var result = GoldenResult(name: c.name, op: c.op, worstRatio: worst, worstTensor: worstName,
                                      status: worst <= 1 ? .pass : .fail)
            result.details = details
            return result
        } catch let e as GoldenUnsupported {
            return GoldenResult(name: c.name, op: c.op, worstRatio: nil, worstTensor: nil, status: .unsupported(e.reason))
        } catch {
            return GoldenResult(name: c.name, op: c.op, worstRatio: nil, worstTensor: nil, status: .error("\(error)"))
        }
    }
}

/// Thrown by an evaluator for an attribute value it does not implement.
struct GoldenUnsupported: Error { let reason: String }
