//! Escaping text for the XML this library writes by hand (the JUnit report, the SVG chart).

/// Text or an attribute value, escaped (`&`, `<`, `>`, `"`, `'`); a character XML 1.0 does not
/// allow at all (C0 controls but tab, LF and CR; U+FFFE, U+FFFF) becomes `forbidden` (`""`
/// leaves it out), so the document stays well-formed.
pub fn escape(s: &str, forbidden: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push_str(forbidden),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_is_escaped_and_forbidden_characters_replaced() {
        assert_eq!(
            escape("a<b & 'c'>\"d\"\t\n", ""),
            "a&lt;b &amp; &apos;c&apos;&gt;&quot;d&quot;\t\n"
        );
        assert_eq!(escape("x\u{1}y\u{FFFF}", ""), "xy");
        assert_eq!(escape("x\u{1}y", "\u{FFFD}"), "x\u{FFFD}y");
    }
}
