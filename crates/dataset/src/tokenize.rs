//! Exact token counting for `cl100k_base` and `o200k_base`.
//!
//! tiktoken splits text with a regular expression (the "pre-tokenizer") and runs byte-pair
//! encoding on every piece independently. This module replaces the regular expression with a
//! hand-written matcher that implements the same two patterns (leftmost-first alternation, greedy
//! quantifiers with backtracking, the `\s+(?!\S)` look-ahead) over a per-code-point class table
//! built from `regex-syntax`'s own Unicode tables, the tables tiktoken's regex engine uses. The
//! byte-pair encoding of a piece comes from the `bpe` crate, its vocabularies built from
//! `bpe-openai`'s by `build.rs` (trimmed to what counting needs, zstd-compressed, and decompressed
//! on first use), and is cached per piece, so natural text, which repeats its pieces, spends its time in
//! the pre-tokenizer. Long strings seen twice (system prompts, tool definitions) are counted once.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use bpe::byte_pair_encoding::BytePairEncoding;
use hashbrown::{HashMap, HashSet, HashTable};

/// A tiktoken encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// gpt-3.5-turbo, gpt-4, babbage-002, davinci-002.
    Cl100kBase,
    /// gpt-4o, gpt-4.1, o-series and later.
    O200kBase,
}

impl Encoding {
    /// tiktoken's name for the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
        }
    }

    fn bpe(self) -> &'static BytePairEncoding {
        static CL100K_BASE: LazyLock<BytePairEncoding> = LazyLock::new(|| {
            load_vocabulary(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/cl100k_base.bpe.zst"
            )))
        });
        static O200K_BASE: LazyLock<BytePairEncoding> = LazyLock::new(|| {
            load_vocabulary(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/o200k_base.bpe.zst"
            )))
        });
        match self {
            Encoding::Cl100kBase => &CL100K_BASE,
            Encoding::O200kBase => &O200K_BASE,
        }
    }
}

/// A vocabulary written by `build.rs`: its serialized size (u64, little-endian), then the
/// zstd-compressed MessagePack of the `BytePairEncoding`.
fn load_vocabulary(file: &[u8]) -> BytePairEncoding {
    let (len, packed) = file.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    let raw = zstd::bulk::decompress(packed, len).expect("the embedded vocabulary decompresses");
    rmp_serde::from_slice(&raw).expect("the embedded vocabulary deserializes")
}

impl serde::Serialize for Encoding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------------------------

/// `\p{L}`
const F_L: u8 = 1;
/// `\p{N}`
const F_N: u8 = 2;
/// `\s` (Unicode White_Space)
const F_WS: u8 = 4;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]` (o200k "upper")
const F_UP: u8 = 8;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]` (o200k "lower")
const F_LO: u8 = 16;

/// One byte of class flags per Unicode code point (1.1 MB, built once).
static CLASSES: LazyLock<Box<[u8]>> = LazyLock::new(build_classes);

fn build_classes() -> Box<[u8]> {
    use regex_syntax::hir::{Class, HirKind};
    let mut table = vec![0u8; 0x11_0000];
    for (pattern, flag) in [
        (r"\p{L}", F_L),
        (r"\p{N}", F_N),
        (r"\s", F_WS),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", F_UP),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", F_LO),
    ] {
        let hir = regex_syntax::Parser::new()
            .parse(pattern)
            .expect("valid class");
        match hir.kind() {
            HirKind::Class(Class::Unicode(class)) => {
                for range in class.iter() {
                    for cp in range.start() as u32..=range.end() as u32 {
                        table[cp as usize] |= flag;
                    }
                }
            }
            other => panic!("unexpected class for {pattern}: {other:?}"),
        }
    }
    table.into_boxed_slice()
}

/// Decodes the char starting at `i` of valid UTF-8: (code point, byte length).
#[inline(always)]
fn dec(b: &[u8], i: usize) -> (u32, usize) {
    let c0 = b[i] as u32;
    if c0 < 0x80 {
        (c0, 1)
    } else if c0 < 0xE0 {
        (((c0 & 0x1F) << 6) | (b[i + 1] as u32 & 0x3F), 2)
    } else if c0 < 0xF0 {
        (
            ((c0 & 0x0F) << 12) | ((b[i + 1] as u32 & 0x3F) << 6) | (b[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((c0 & 0x07) << 18)
                | ((b[i + 1] as u32 & 0x3F) << 12)
                | ((b[i + 2] as u32 & 0x3F) << 6)
                | (b[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

struct Pre<'t> {
    t: &'t [u8],
}

impl Pre<'_> {
    #[inline(always)]
    fn class(&self, cp: u32) -> u8 {
        // Every decoded code point is < 0x110000.
        self.t[cp as usize]
    }

    /// End of the run of chars from `q` whose class has any bit of `flags`.
    #[inline(always)]
    fn run(&self, b: &[u8], mut q: usize, flags: u8) -> usize {
        while q < b.len() {
            let (c, l) = dec(b, q);
            if self.class(c) & flags == 0 {
                break;
            }
            q += l;
        }
        q
    }

    /// End of the run of chars from `q` whose class has none of `flags`.
    #[inline(always)]
    fn run_not(&self, b: &[u8], mut q: usize, flags: u8) -> usize {
        while q < b.len() {
            let (c, l) = dec(b, q);
            if self.class(c) & flags != 0 {
                break;
            }
            q += l;
        }
        q
    }

    /// `\p{N}{1,3}` at `p` (caller checked the first char is a number).
    #[inline(always)]
    fn digits(&self, b: &[u8], p: usize) -> usize {
        let mut q = p;
        for _ in 0..3 {
            if q >= b.len() {
                break;
            }
            let (c, l) = dec(b, q);
            if self.class(c) & F_N == 0 {
                break;
            }
            q += l;
        }
        q
    }

    /// The whitespace alternatives at `p` (a whitespace char): o200k's
    /// `\s*[\r\n]+|\s+(?!\S)|\s+`, or with `end_first` cl100k's `\s++$|\s*[\r\n]|\s+(?!\S)|\s`.
    #[inline(always)]
    fn whitespace(&self, b: &[u8], p: usize, end_first: bool) -> usize {
        let mut q = p;
        let mut last_newline_end = 0;
        let mut last_start = p;
        let mut chars = 0usize;
        while q < b.len() {
            let (c, l) = dec(b, q);
            if self.class(c) & F_WS == 0 {
                break;
            }
            last_start = q;
            q += l;
            chars += 1;
            if c == b'\n' as u32 || c == b'\r' as u32 {
                last_newline_end = q;
            }
        }
        if end_first && q == b.len() {
            q
        } else if last_newline_end != 0 {
            last_newline_end
        } else if q == b.len() || chars < 2 {
            q
        } else {
            last_start
        }
    }

    /// cl100k_base, as current tiktoken writes it (possessive; `\s++$` before `\s*[\r\n]`):
    /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    #[inline(always)]
    fn next_cl100k(&self, b: &[u8], p: usize) -> usize {
        let n = b.len();
        let (c0, l0) = dec(b, p);
        let f0 = self.class(c0);
        if c0 == b'\'' as u32 {
            if let Some(k) = contraction(b, p) {
                return p + k;
            }
        }
        if f0 & F_L != 0 {
            return self.run(b, p, F_L);
        }
        if f0 & (F_L | F_N) == 0 && c0 != b'\r' as u32 && c0 != b'\n' as u32 && p + l0 < n {
            let (c1, _) = dec(b, p + l0);
            if self.class(c1) & F_L != 0 {
                return self.run(b, p + l0, F_L);
            }
        }
        if f0 & F_N != 0 {
            return self.digits(b, p);
        }
        let s = if c0 == b' ' as u32 { p + 1 } else { p };
        let e = self.run_not(b, s, F_WS | F_L | F_N);
        if e > s {
            let mut q = e;
            while q < n && (b[q] == b'\r' || b[q] == b'\n') {
                q += 1;
            }
            return q;
        }
        self.whitespace(b, p, true)
    }

    /// o200k_base:
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    #[inline(always)]
    fn next_o200k(&self, b: &[u8], p: usize) -> usize {
        let n = b.len();
        let (c0, l0) = dec(b, p);
        let f0 = self.class(c0);
        let prefix =
            f0 & (F_L | F_N) == 0 && c0 != b'\r' as u32 && c0 != b'\n' as u32 && p + l0 < n;
        if f0 & (F_UP | F_LO) != 0 || prefix {
            if prefix {
                if let Some(e) = self.o_word1(b, p + l0) {
                    return e;
                }
            }
            if let Some(e) = self.o_word1(b, p) {
                return e;
            }
            if prefix {
                if let Some(e) = self.o_word2(b, p + l0) {
                    return e;
                }
            }
            if let Some(e) = self.o_word2(b, p) {
                return e;
            }
        }
        if f0 & F_N != 0 {
            return self.digits(b, p);
        }
        let s = if c0 == b' ' as u32 { p + 1 } else { p };
        let e = self.run_not(b, s, F_WS | F_L | F_N);
        if e > s {
            let mut q = e;
            while q < n && (b[q] == b'\r' || b[q] == b'\n' || b[q] == b'/') {
                q += 1;
            }
            return q;
        }
        self.whitespace(b, p, false)
    }

    /// `UP* LO+ contraction?` at `s` (without the optional prefix char).
    #[inline(always)]
    fn o_word1(&self, b: &[u8], s: usize) -> Option<usize> {
        let n = b.len();
        let mut q = s;
        let mut last_lo_end = 0;
        while q < n {
            let (c, l) = dec(b, q);
            let f = self.class(c);
            if f & F_UP == 0 {
                break;
            }
            q += l;
            if f & F_LO != 0 {
                last_lo_end = q;
            }
        }
        let end = if q < n && self.class(dec(b, q).0) & F_LO != 0 {
            self.run(b, q, F_LO)
        } else if last_lo_end != 0 {
            last_lo_end
        } else {
            return None;
        };
        Some(end + contraction(b, end).unwrap_or(0))
    }

    /// `UP+ LO* contraction?` at `s`.
    #[inline(always)]
    fn o_word2(&self, b: &[u8], s: usize) -> Option<usize> {
        let q = self.run(b, s, F_UP);
        if q == s {
            return None;
        }
        let end = self.run(b, q, F_LO);
        Some(end + contraction(b, end).unwrap_or(0))
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: the match length in bytes.
#[inline(always)]
fn contraction(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'\'') {
        return None;
    }
    let c1 = *b.get(i + 1)?;
    let lower = |x: Option<&u8>| x.map(|c| c.to_ascii_lowercase());
    match c1.to_ascii_lowercase() {
        b's' | b't' | b'm' | b'd' => Some(2),
        b'r' | b'v' if lower(b.get(i + 2)) == Some(b'e') => Some(3),
        b'l' if lower(b.get(i + 2)) == Some(b'l') => Some(3),
        // U+017F LATIN SMALL LETTER LONG S case-folds to `s`.
        0xC5 if b.get(i + 2) == Some(&0xBF) => Some(3),
        _ => None,
    }
}

/// Calls `f` with every pre-tokenized piece of `text`, as tiktoken splits it.
pub fn for_each_piece(text: &str, encoding: Encoding, mut f: impl FnMut(&str)) {
    let pre = Pre { t: &CLASSES };
    let b = text.as_bytes();
    let mut p = 0;
    while p < b.len() {
        let e = match encoding {
            Encoding::Cl100kBase => pre.next_cl100k(b, p),
            Encoding::O200kBase => pre.next_o200k(b, p),
        };
        f(&text[p..e]);
        p = e;
    }
}

// ---------------------------------------------------------------------------------------------
// Counting with caches
// ---------------------------------------------------------------------------------------------

const SMALL_CACHE_MAX: usize = 1 << 16;
const LARGE_CACHE_MAX: usize = 1 << 13;
const LARGE_PIECE_MAX: usize = 96;
const STRING_MIN: usize = 48;
const STRING_CACHE_BYTES: usize = 2 << 20;
const SEEN_MAX: usize = 1 << 15;

/// A token counter with its caches; one per thread.
pub(crate) struct Counter {
    encoding: Encoding,
    bpe: &'static BytePairEncoding,
    pre: Pre<'static>,
    small: HashMap<u128, u32>,
    large: HashMap<Box<[u8]>, u32>,
    strings: HashTable<(u64, Box<str>, u64)>,
    string_bytes: usize,
    seen: HashSet<u64>,
    hasher: foldhash::fast::FixedState,
}

impl Counter {
    pub(crate) fn new(encoding: Encoding) -> Self {
        Counter {
            encoding,
            bpe: encoding.bpe(),
            pre: Pre { t: &CLASSES },
            small: HashMap::with_capacity(1 << 12),
            large: HashMap::new(),
            strings: HashTable::new(),
            string_bytes: 0,
            seen: HashSet::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed),
        }
    }

    /// Tokens of `text` (exact, as tiktoken's `encode_ordinary`).
    pub(crate) fn count(&mut self, text: &str) -> u64 {
        if text.len() < STRING_MIN {
            return self.count_pieces(text);
        }
        let hash = self.hasher.hash_one(text);
        if let Some(entry) = self
            .strings
            .find(hash, |(h, s, _)| *h == hash && &**s == text)
        {
            return entry.2;
        }
        let n = self.count_pieces(text);
        if self.seen.contains(&hash) {
            // Second sighting: keep the string so that later ones cost a hash and a compare.
            if self.string_bytes + text.len() > STRING_CACHE_BYTES {
                self.strings.clear();
                self.string_bytes = 0;
            }
            if text.len() <= STRING_CACHE_BYTES / 4 {
                self.string_bytes += text.len();
                self.strings
                    .insert_unique(hash, (hash, text.into(), n), |(h, _, _)| *h);
            }
        } else {
            if self.seen.len() >= SEEN_MAX {
                self.seen.clear();
            }
            self.seen.insert(hash);
        }
        n
    }

    fn count_pieces(&mut self, text: &str) -> u64 {
        let b = text.as_bytes();
        let mut p = 0;
        let mut total = 0u64;
        match self.encoding {
            Encoding::Cl100kBase => {
                while p < b.len() {
                    let e = self.pre.next_cl100k(b, p);
                    total += self.piece(&b[p..e]) as u64;
                    p = e;
                }
            }
            Encoding::O200kBase => {
                while p < b.len() {
                    let e = self.pre.next_o200k(b, p);
                    total += self.piece(&b[p..e]) as u64;
                    p = e;
                }
            }
        }
        total
    }

    #[inline(always)]
    fn piece(&mut self, piece: &[u8]) -> u32 {
        let n = piece.len();
        if n == 1 {
            // Every byte is a token of its own in both vocabularies.
            return 1;
        }
        if n <= 15 {
            let mut key = [0u8; 16];
            key[..n].copy_from_slice(piece);
            key[15] = n as u8;
            let key = u128::from_le_bytes(key);
            if let Some(&c) = self.small.get(&key) {
                return c;
            }
            let c = self.bpe.count(piece) as u32;
            if self.small.len() >= SMALL_CACHE_MAX {
                self.small.clear();
            }
            self.small.insert(key, c);
            c
        } else if n <= LARGE_PIECE_MAX {
            if let Some(&c) = self.large.get(piece) {
                return c;
            }
            let c = self.bpe.count(piece) as u32;
            if self.large.len() >= LARGE_CACHE_MAX {
                self.large.clear();
            }
            self.large.insert(piece.into(), c);
            c
        } else {
            self.bpe.count(piece) as u32
        }
    }
}

thread_local! {
    static COUNTERS: std::cell::RefCell<[Option<Counter>; 2]> = const { std::cell::RefCell::new([None, None]) };
}

/// Exact number of tokens of `text` in `encoding` (tiktoken's `len(enc.encode_ordinary(text))`).
pub fn count_tokens(text: &str, encoding: Encoding) -> usize {
    COUNTERS.with(|cell| {
        let mut counters = cell.borrow_mut();
        let slot = &mut counters[encoding as usize];
        slot.get_or_insert_with(|| Counter::new(encoding))
            .count(text) as usize
    })
}

/// The tokens of `text` in `encoding`, in order, each as its bytes (tiktoken's
/// `[enc.decode_single_token_bytes(t) for t in enc.encode_ordinary(text)]`). A token may end or
/// start inside a multi-byte character; the concatenation of all of them is `text`.
pub fn token_bytes(text: &str, encoding: Encoding) -> Vec<Vec<u8>> {
    let bpe = encoding.bpe();
    let mut out = Vec::new();
    for_each_piece(text, encoding, |piece| {
        for id in bpe.encode_via_backtracking(piece.as_bytes()) {
            out.push(bpe.token_bytes(id).to_vec());
        }
    });
    out
}
