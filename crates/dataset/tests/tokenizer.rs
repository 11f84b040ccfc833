//! The hand-written pre-tokenizer and the cached counter against tiktoken-rs (the Rust port of
//! tiktoken, vocabularies embedded) and its regex engine (fancy-regex) with tiktoken's patterns.

use fine_tune_dataset::{count_tokens, for_each_piece, token_bytes, Encoding};

const CL100K_PAT: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
const O200K_PAT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);

fn reference_pieces(re: &fancy_regex::Regex, text: &str) -> Vec<String> {
    re.find_iter(text)
        .map(|m| m.expect("regex ok").as_str().to_string())
        .collect()
}

fn our_pieces(text: &str, enc: Encoding) -> Vec<String> {
    let mut v = Vec::new();
    for_each_piece(text, enc, |p| v.push(p.to_string()));
    v
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Strings over an alphabet chosen to hit every branch of both patterns.
fn tricky_string(rng: &mut Rng) -> String {
    const ATOMS: &[&str] = &[
        "a",
        "Z",
        "hello",
        "World",
        "HTTPServer",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        " \n ",
        "'",
        "'s",
        "'S",
        "'ll",
        "'LL",
        "'Re",
        "'ve",
        "'d",
        "'m",
        "'t",
        "'x",
        "'ſ",
        "ſ",
        "0",
        "12345",
        "٣٤",
        "Ⅻ",
        "½",
        "/",
        "//",
        "!",
        "?!",
        ".",
        ",",
        "(",
        ")",
        "{\"",
        "\u{301}",
        "e\u{301}",
        "\u{2b0}",
        "ǅ",
        "ǅa",
        "漢字",
        "かな",
        "한국어",
        "😀",
        "👍🏽",
        "\u{a0}",
        "\u{3000}",
        "\u{2028}",
        "\u{85}",
        "\u{200b}",
        "\u{feff}",
        "Ünïcödé",
        "ÉCOLE",
        "café",
        "x\u{301}Y",
        "\u{301}\u{301}a",
        "#",
        "->",
        "=>",
        "\\",
        "\u{0}",
        "ΑΒΓαβγ",
        "Ⓐ",
        "ǈ",
        "$",
        "$$",
        "—",
        "…",
        "\"",
        "'",
        " '",
        "' s",
        "ß",
        "İ",
        "ﬁ",
    ];
    let n = 1 + rng.below(24);
    (0..n).map(|_| ATOMS[rng.below(ATOMS.len())]).collect()
}

#[test]
fn known_counts() {
    // Values from tiktoken (cl100k_base: OpenAI cookbook "How to count tokens with tiktoken").
    assert_eq!(count_tokens("tiktoken is great!", Encoding::Cl100kBase), 6);
    assert_eq!(
        tiktoken_rs::o200k_base()
            .unwrap()
            .encode_ordinary("tiktoken is great!")
            .len(),
        6
    );
    assert_eq!(count_tokens("tiktoken is great!", Encoding::O200kBase), 6);
    assert_eq!(count_tokens("hello world", Encoding::Cl100kBase), 2);
    assert_eq!(count_tokens("hello world", Encoding::O200kBase), 2);
    assert_eq!(count_tokens("", Encoding::O200kBase), 0);
    let cl = tiktoken_rs::cl100k_base().unwrap();
    let o2 = tiktoken_rs::o200k_base().unwrap();
    for s in [
        "tiktoken is great!",
        "hello world",
        "antidisestablishmentarianism",
        "こんにちは世界",
        "fn main() {\n    println!(\"hi\");\n}\n",
        "I'm here, they'll go; it's 2024-06-01.",
        "trailing spaces   \n  ",
    ] {
        assert_eq!(
            count_tokens(s, Encoding::Cl100kBase),
            cl.encode_ordinary(s).len(),
            "{s:?}"
        );
        assert_eq!(
            count_tokens(s, Encoding::O200kBase),
            o2.encode_ordinary(s).len(),
            "{s:?}"
        );
    }
}

#[test]
fn pieces_match_tiktoken_regex() {
    let cl = fancy_regex::Regex::new(CL100K_PAT).unwrap();
    let o2 = fancy_regex::Regex::new(O200K_PAT).unwrap();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for _ in 0..30_000 {
        let s = tricky_string(&mut rng);
        assert_eq!(
            our_pieces(&s, Encoding::Cl100kBase),
            reference_pieces(&cl, &s),
            "cl100k {s:?}"
        );
        assert_eq!(
            our_pieces(&s, Encoding::O200kBase),
            reference_pieces(&o2, &s),
            "o200k {s:?}"
        );
    }
}

#[test]
fn counts_match_tiktoken_rs_on_random_text() {
    let cl = tiktoken_rs::cl100k_base().unwrap();
    let o2 = tiktoken_rs::o200k_base().unwrap();
    let mut rng = Rng(12345);
    for _ in 0..10_000 {
        let s = tricky_string(&mut rng);
        assert_eq!(
            count_tokens(&s, Encoding::Cl100kBase),
            cl.encode_ordinary(&s).len(),
            "{s:?}"
        );
        assert_eq!(
            count_tokens(&s, Encoding::O200kBase),
            o2.encode_ordinary(&s).len(),
            "{s:?}"
        );
    }
}

#[test]
fn every_code_point_class_agrees() {
    // One char of every Unicode scalar value between two letters: exercises the class table.
    let cl = fancy_regex::Regex::new(CL100K_PAT).unwrap();
    let o2 = fancy_regex::Regex::new(O200K_PAT).unwrap();
    let mut s = String::new();
    for cp in (0u32..0x11_0000).step_by(7) {
        if let Some(c) = char::from_u32(cp) {
            s.push('a');
            s.push(c);
            s.push(' ');
            if s.len() > 4000 {
                assert_eq!(
                    our_pieces(&s, Encoding::Cl100kBase),
                    reference_pieces(&cl, &s)
                );
                assert_eq!(
                    our_pieces(&s, Encoding::O200kBase),
                    reference_pieces(&o2, &s)
                );
                s.clear();
            }
        }
    }
}

#[test]
fn tokens_match_tiktoken_rs() {
    let cl = tiktoken_rs::cl100k_base().unwrap();
    let o2 = tiktoken_rs::o200k_base().unwrap();
    let mut rng = Rng(777);
    for i in 0..2_000 {
        let s = if i == 0 {
            "Your order A-1001 has shipped. こんにちは".to_string()
        } else {
            tricky_string(&mut rng)
        };
        for (enc, reference) in [(Encoding::Cl100kBase, &cl), (Encoding::O200kBase, &o2)] {
            let ours = token_bytes(&s, enc);
            let theirs: Vec<Vec<u8>> = reference
                .encode_ordinary(&s)
                .into_iter()
                .map(|t| reference.decode_bytes(&[t]).unwrap())
                .collect();
            assert_eq!(ours, theirs, "{enc:?} {s:?}");
            assert_eq!(ours.concat(), s.as_bytes());
        }
    }
}
