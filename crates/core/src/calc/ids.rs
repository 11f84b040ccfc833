//! The ids the API hands out, checked before they go into a URL path, and the one encoder of
//! a URL path segment.
//!
//! Documented shapes (OpenAI's spec and Azure's docs, `/work/shared`):
//! - job: `ftjob-<alphanumerics>` (OpenAI; also seen from Azure), `ft-<32 hex>` (Azure's dated
//!   API examples);
//! - file: `file-<alphanumerics>`;
//! - model: a base model (`gpt-4o-mini-2024-07-18`), `ft:<base>:<org>:<suffix>:<id>` (OpenAI,
//!   `…:ckpt-step-<n>` for a checkpoint's model), `<base>.ft-<32 hex>` (Azure);
//! - checkpoint: `ftckpt_<alphanumerics>` (OpenAI), `ftchkpt-<32 hex>` (Azure).
//!
//! Azure's real prefixes are not all documented, so the checks are about what is safe in a
//! path segment, not about prefixes: an id is 1 to [`MAX_ID_LEN`] of ASCII letters, digits
//! and `-` `.` `_` `~` `:`, is not `.` and holds no `..`. That refuses every `/`, `?`, `#`,
//! `%`, `\`, space, control character and non-ASCII character, so an id given by a caller (or
//! read from a hand-edited registry) cannot name another endpoint or add a query. Ids that
//! pass need no encoding; [`path_segment`] encodes any string exactly, for the ids that were
//! not checked.

use crate::types::error::{Error, ErrorCode, Result};

/// The longest id accepted (OpenAI's ids are about 30 characters, model names about 100).
pub const MAX_ID_LEN: usize = 256;

/// What an id names, for the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Job,
    File,
    Model,
    Checkpoint,
}

impl IdKind {
    fn shape(self) -> &'static str {
        match self {
            IdKind::Job => "a fine-tuning job id such as ftjob-abc123",
            IdKind::File => "a file id such as file-abc123",
            IdKind::Model => "a model name such as ft:gpt-4o-mini-2024-07-18:org:suffix:abc123",
            IdKind::Checkpoint => "a checkpoint id such as ftckpt_abc123",
        }
    }
}

/// Whether `c` may appear in an id (and needs no encoding in a path segment).
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | ':')
}

/// Checks that `id`, given as the option `param`, is an id of `kind` that is safe as one URL
/// path segment (see the module's documentation); else `ERR_INVALID_OPTION` naming `param`.
pub fn check(kind: IdKind, param: &str, id: &str) -> Result<()> {
    let why = if id.is_empty() {
        Some("it is empty".to_string())
    } else if id.len() > MAX_ID_LEN {
        Some(format!(
            "it has {} characters, at most {MAX_ID_LEN} are allowed",
            id.chars().count()
        ))
    } else if let Some(c) = id.chars().find(|&c| !id_char(c)) {
        Some(format!("{c:?} is not allowed in an id"))
    } else if id.contains("..") || id == "." {
        Some("\".\" and \"..\" are not allowed as or in an id".to_string())
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::new(
            ErrorCode::InvalidOption,
            format!(
                "{param} {} is not {}: {why} (ids hold only letters, digits and - . _ ~ :)",
                shown(id),
                kind.shape()
            ),
        )
        .with_param(param)),
    }
}

/// Checks a fine-tuning job id (see [`check`]).
pub fn job_id(param: &str, id: &str) -> Result<()> {
    check(IdKind::Job, param, id)
}

/// Checks a file id (see [`check`]).
pub fn file_id(param: &str, id: &str) -> Result<()> {
    check(IdKind::File, param, id)
}

/// Checks a model name (see [`check`]).
pub fn model_id(param: &str, id: &str) -> Result<()> {
    check(IdKind::Model, param, id)
}

/// Checks a checkpoint id (see [`check`]).
pub fn checkpoint_id(param: &str, id: &str) -> Result<()> {
    check(IdKind::Checkpoint, param, id)
}

/// Whether a caller's `modelKeyOrJobId` means a job id: the API's `ftjob-` prefix, as the
/// job look-up reads it.
pub fn is_job_id(s: &str) -> bool {
    s.starts_with("ftjob-")
}

/// Whether `s` is all dots (`.`, `..`, …): such a segment cannot be sent as it is, nor encoded,
/// since URL parsers (WHATWG's, the `url` crate's) read `%2E%2E` as `..` and drop or climb it.
/// Names that go into a path must be refused when they are one.
pub fn is_dot_segment(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b'.')
}

/// `s` as one URL path segment, exactly: every byte but ASCII letters, digits and
/// `-` `.` `_` `~` `:` is percent-encoded (`/` `?` `#` `%` spaces, controls and non-ASCII
/// included), and a segment that is all dots (`.`, `..`) has its dots encoded. URL parsers
/// still read an encoded `..` as `..` ([`is_dot_segment`]): every name this encodes is checked
/// first ([`check`], `calc::azure::plan`). Apply it to every id put into a request's path.
pub fn path_segment(s: &str) -> String {
    if is_dot_segment(s) {
        return "%2E".repeat(s.len());
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii() && id_char(b as char) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An id for a message: quoted, and cut at 80 characters.
fn shown(id: &str) -> String {
    const MAX: usize = 80;
    if id.chars().count() <= MAX {
        format!("{id:?}")
    } else {
        let head: String = id.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_pass() {
        for id in [
            "ftjob-abc123",
            "ftjob-0f6fd6b0ae2e4b6b8ad8b2de2c8a6a5b",
            "ft-72a2792ef7d24ba7",
        ] {
            job_id("jobId", id).unwrap();
        }
        file_id("fileId", "file-BK7bzQj3FfZFXr7DbL6xJwfo").unwrap();
        for m in [
            "gpt-4o-mini-2024-07-18",
            "ft:gpt-4o-mini-2024-07-18:my-org:writer_v1.2:9xYz",
            "ft:gpt-4o-mini-2024-07-18:org:s:abc:ckpt-step-88",
            "gpt-4.1-mini-2025-04-14.ft-b044a9d3cf9c4228b5d393567f693b83",
        ] {
            model_id("model", m).unwrap();
        }
        checkpoint_id("checkpoint", "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB").unwrap();
        checkpoint_id("checkpoint", "ftchkpt-b044a9d3cf9c4228b5d393567f693b83").unwrap();
    }

    #[test]
    fn path_like_ids_are_refused_naming_the_option() {
        for id in [
            "",
            "ftjob-x/../../files?",
            "ftjob-abc/cancel?x=",
            "ftjob-abc?x=1",
            "ftjob-abc#frag",
            "ftjob-a%2Fb",
            "ftjob- x",
            "ftjob-x ",
            "ftjob-\u{0}",
            "ftjob-\n",
            "ftjob-..",
            "..",
            ".",
            "ftjob-a\\b",
            "ftjob-é",
            "ftjob-a&b=c",
        ] {
            let e = job_id("jobId", id).expect_err(id);
            assert_eq!(e.code, ErrorCode::InvalidOption, "{id:?}");
            assert_eq!(e.param.as_deref(), Some("jobId"));
            assert!(e.message.starts_with("jobId "), "{}", e.message);
        }
        let long = format!("ftjob-{}", "a".repeat(MAX_ID_LEN));
        let e = job_id("jobId", &long).unwrap_err();
        assert!(e.message.contains("at most 256"), "{}", e.message);
        assert!(!e.message.contains(&long), "the id is cut in the message");
    }

    #[test]
    fn path_segment_encodes_exactly() {
        assert_eq!(path_segment("ftjob-abc123"), "ftjob-abc123");
        assert_eq!(
            path_segment("ft:gpt-4o-mini:org:s_1.2~x:id"),
            "ft:gpt-4o-mini:org:s_1.2~x:id"
        );
        assert_eq!(
            path_segment("ftjob-x/../../files?a=b#c"),
            "ftjob-x%2F..%2F..%2Ffiles%3Fa%3Db%23c"
        );
        assert_eq!(path_segment("a%2Fb"), "a%252Fb");
        assert_eq!(path_segment("a b\tc\n\u{0}"), "a%20b%09c%0A%00");
        assert_eq!(path_segment("a\\b"), "a%5Cb");
        assert_eq!(path_segment("é"), "%C3%A9");
        assert_eq!(path_segment("."), "%2E");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("..."), "%2E%2E%2E");
        assert_eq!(path_segment(""), "");
        // Why all-dot names are refused before they reach a path: the URL parser reads the
        // encoded form as `..` too.
        let u = url::Url::parse(&format!("http://h/v1/files/{}", path_segment(".."))).unwrap();
        assert_eq!(u.path(), "/v1/");
        assert!(
            is_dot_segment("..")
                && is_dot_segment(".")
                && !is_dot_segment("a.")
                && !is_dot_segment("")
        );
        // Whatever the input, the segment holds no character that ends or splits it.
        for s in ["/", "?", "#", "%", "a/b?c#d%e", "\u{7f}", "\u{2028}"] {
            let enc = path_segment(s);
            assert!(
                !enc.contains(['/', '?', '#', ' ']) && enc.is_ascii(),
                "{s:?} -> {enc}"
            );
        }
    }

    #[test]
    fn a_path_like_id_stays_one_segment_of_the_url() {
        for id in [
            "../../files/file-x",
            "ftjob-a/cancel",
            "a?b=c#d",
            "a%2F..%2Fb",
        ] {
            let u = url::Url::parse(&format!(
                "http://127.0.0.1/v1/fine_tuning/jobs/{}/events",
                path_segment(id)
            ))
            .unwrap();
            let segs: Vec<_> = u.path_segments().unwrap().collect();
            assert_eq!(segs.len(), 5, "{id:?} -> {u}");
            assert_eq!(segs[4], "events", "{id:?} -> {u}");
            assert!(
                u.query().is_none() && u.fragment().is_none(),
                "{id:?} -> {u}"
            );
            let back = percent_decode(segs[3]);
            assert_eq!(back, id, "{id:?} -> {u}");
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn job_ids_are_told_from_model_keys_by_their_prefix() {
        assert!(is_job_id("ftjob-abc"));
        assert!(!is_job_id("writer_v1"));
        assert!(!is_job_id("ft:gpt-4o-mini:org::id"));
    }
}
