//! Embeds the two vocabularies the model table uses (`cl100k_base`, `o200k_base`), small:
//! `bpe-openai` (a build dependency only) serializes each whole `BytePairEncoding`, three
//! Aho-Corasick automata included, and ships a third vocabulary (`voyage3_base`) nobody here uses.
//! Token counting (`BytePairEncoding::count`, the backtracking encoder) uses only the
//! longest-match automaton, so this script replaces the two overlapping-match automata (the
//! appendable/prependable and interval encoders' own) with those of a one-token vocabulary, and
//! compresses the rest with zstd. `src/tokenize.rs` decompresses and deserializes an encoding
//! the first time it is used. Measured in README.md ("Package size").

use std::io::Write;
use std::path::PathBuf;

use bpe_openai::byte_pair_encoding::BytePairEncoding;

/// Field positions in `BytePairEncoding`'s serialized form (a MessagePack array, in field order):
/// `overlapping_searcher` and `overlapping_searcher_rev`.
const OVERLAPPING: [usize; 2] = [6, 7];
const FIELDS: usize = 10;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set during build"));
    let level = std::env::var("FT_VOCAB_ZSTD_LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(19);
    println!("cargo::rerun-if-env-changed=FT_VOCAB_ZSTD_LEVEL");

    let tiny = fields(&BytePairEncoding::from_dictionary([b"a".to_vec()], None));
    for (name, bpe) in [
        ("cl100k_base", &bpe_openai::cl100k_base().bpe),
        ("o200k_base", &bpe_openai::o200k_base().bpe),
    ] {
        let mut f = fields(bpe);
        for i in OVERLAPPING {
            f[i] = tiny[i].clone();
        }
        let mut raw = Vec::new();
        rmpv::encode::write_value(&mut raw, &rmpv::Value::Array(f))
            .expect("re-encode the vocabulary");
        // Proof that the trimmed form still deserializes (and counts) before it is embedded.
        let trimmed: BytePairEncoding =
            rmp_serde::from_slice(&raw).expect("the trimmed vocabulary deserializes");
        assert_eq!(trimmed.count(b"hello world"), bpe.count(b"hello world"));
        let packed = zstd::bulk::compress(&raw, level).expect("zstd");
        let mut file = std::fs::File::create(out.join(format!("{name}.bpe.zst")))
            .expect("create vocabulary file");
        file.write_all(&(raw.len() as u64).to_le_bytes())
            .expect("write");
        file.write_all(&packed).expect("write");
    }
}

fn fields(bpe: &BytePairEncoding) -> Vec<rmpv::Value> {
    let bytes = rmp_serde::to_vec(bpe).expect("serialize the vocabulary");
    match rmpv::decode::read_value(&mut &bytes[..]).expect("read the vocabulary back") {
        rmpv::Value::Array(f) if f.len() == FIELDS => f,
        other => panic!(
            "unexpected serialized BytePairEncoding layout ({} fields)",
            other.as_array().map_or(0, Vec::len)
        ),
    }
}
