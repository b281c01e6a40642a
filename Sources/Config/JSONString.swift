/// Text as a JSON string literal. The same text is a valid YAML double-quoted scalar
/// (control characters and DEL, which YAML does not allow raw, are escaped as \uXXXX), so
/// config rendering and metrics records share this one escaper.
public enum JSONString {
    /// `text` in double quotes, escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
