import Foundation

/// "Did you mean ...?" for mistyped config keys and choice values.
enum KeySuggestion {
    /// Edit distance counting insertions, deletions, substitutions and adjacent transpositions
    /// as one each (optimal string alignment), case-insensitively. Transpositions count once
    /// because `trian` for `train` is the typo people actually make.
    static func distance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs.lowercased()), b = Array(rhs.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// The candidate closest to `typed`, if close enough to be a plausible typo.
    static func closest(to typed: String, among candidates: [String]) -> String? {
        // Short words are only a typo apart from many others; allow fewer edits there.
        let limit = typed.count <= 3 ? 1 : (typed.count >= 10 ? 3 : 2)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let d = distance(typed, candidate)
            if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        return best?.candidate
    }

    /// Suggestion for a dotted key: a key with the same last component wins — in the typed
    /// section first (`probe.batch-size` → `probe.batch_size`), else the first in `keys`' order
    /// (`train.lr` → `optimizer.lr`, top-level `epochs` → `train.epochs`) — else the closest key.
    static func forKey(_ typed: String, among keys: [String]) -> String? {
        let leaf = normalizedLeaf(typed)
        let section = typed.contains(".") ? String(typed.prefix { $0 != "." }) + "." : nil
        let sameLeaf = keys.filter { normalizedLeaf($0) == leaf }
        if let section, let here = sameLeaf.first(where: { $0.hasPrefix(section) }) { return here }
        if let first = sameLeaf.first { return first }
        return closest(to: typed, among: keys)
    }

    private static func normalizedLeaf(_ key: String) -> String {
        let last = key.split(separator: ".").last.map(String.init) ?? key
        return last.lowercased().replacingOccurrences(of: "-", with: "_")
    }
}
