import Engine

extension TrainConfig {
    /// The fully resolved config as YAML: every section and key, defaults included, in a fixed
    /// order. `ConfigLoader` reads it back to an equal `TrainConfig`; the run directory stores it
    /// as `config.yaml` so a run can be reproduced from its own directory.
    public func yaml() -> String {
        "# Resolved Concord run configuration: every key, defaults included.\n"
            + render(sections: ConfigSchema.sections)
    }

    /// A stable fingerprint of what this config trains, for checkpoints to record and compare
    /// on resume: FNV-1a 64 (`StableHash`) of the rendered `ConfigSchema.hashedSections`
    /// (`model`, `data`, `train`, `optimizer`, `schedule`, `distributed`, and the sections of
    /// the method trained: `moco`, `views`, `simclr`, `mocov3`, `mae`), as 16 lowercase hex
    /// digits.
    ///
    /// The `run` and `checkpoint` sections (directory, log interval, progress mode, when to
    /// save) are left out on purpose: moving a run directory or resuming under a supervisor
    /// without a terminal must not look like a different experiment. So are `probe` and `knn`
    /// (they never change pre-training), every other method's section, and for supervised runs
    /// `train.method` — a supervised config hashes as it did before MoCo existed, so its
    /// checkpoints still match, and a MoCo config as before SimCLR; likewise
    /// `model.width` while it has its default, and the ViT's keys for every other model; and
    /// MAE's evaluation keys (`mae.eval_every`, `mae.grid_images`), which only watch.
    public var hash: String {
        // A method's own sections count only when it is the one trained.
        let methodSections = Set(TrainConfig.TrainMethod.allCases.flatMap(\.sections))
        let sections = ConfigSchema.hashedSections.filter { !methodSections.contains($0) || train.method.sections.contains($0) }
        var skipping: Set<String> = ["mae.eval_every", "mae.grid_images", "distributed.timeout_s"]
        if train.method == .supervised { skipping.insert("train.method") }
        if model.width == ModelSection.originalWidth { skipping.insert("model.width") }
        if model.name != .vit { skipping.formUnion(ModelSection.vitKeys) }
        for (key, isSet) in ModelSection.hashedWhenSet where !isSet(model) { skipping.insert(key) }
        for (key, isSet) in OptimizerSection.hashedWhenSet where !isSet(optimizer) { skipping.insert(key) }
        for (key, isSet) in DataSection.hashedWhenSet where !isSet(data) { skipping.insert(key) }
        for (name, isSet) in ViewsSection.hashedWhenSet {
            if !isSet(moco.views) { skipping.insert("moco." + name) }
            if !isSet(views) { skipping.insert("views." + name) }
        }
        return StableHash.hex(StableHash.fnv1a64(render(sections: sections, skipping: skipping)))
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
}
