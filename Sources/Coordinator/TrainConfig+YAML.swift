extension TrainConfig {
    /// The fully resolved config as YAML: every section and key, defaults included, in a fixed
    /// order. `ConfigLoader` reads it back to an equal `TrainConfig`; the run directory stores it
    /// as `config.yaml` so a run can be reproduced from its own directory.
    public func yaml() -> String {
        "# Resolved Concord run configuration: every key, defaults included.\n"
            + render(sections: ConfigSchema.sections)
    }

    /// A stable fingerprint of what this config trains, for checkpoints to record and compare
    /// on resume: FNV-1a 64 of the rendered `model`, `data`, `train`, `optimizer` and
    /// `schedule` sections, as 16 lowercase hex digits.
    ///
    /// The `run` section (directory, log interval, progress mode) is left out on purpose:
    /// moving a run directory or resuming under a supervisor without a terminal must not look
    /// like a different experiment. So are `probe` (it never changes pre-training) and, for
    /// supervised runs, `train.method` and `moco` — a supervised config hashes as it did
    /// before MoCo existed, so its checkpoints still match; likewise `model.width` while it
    /// has its default.
    public var hash: String {
        let sections = ConfigSchema.hashedSections.filter { train.method == .moco || $0 != "moco" }
        var skipping: Set<String> = train.method == .moco ? [] : ["train.method"]
        if model.width == ModelSection.originalWidth { skipping.insert("model.width") }
        let digest = Self.fnv1a64(render(sections: sections, skipping: skipping))
        let hex = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private func render(sections: [String], skipping: Set<String> = []) -> String {
        var out = ""
        for section in sections {
            out += "\(section):\n"
            for field in ConfigSchema.fields where field.section == section && !skipping.contains(field.key) {
                out += "  \(field.name): \(field.render(self))\n"
            }
        }
        return out
    }

    /// FNV-1a, 64-bit, over the UTF-8 bytes of `text`: tiny, dependency-free and stable across
    /// platforms and Swift versions (unlike `Hasher`, which is seeded per process).
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
