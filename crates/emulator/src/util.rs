//! Small helpers: identifiers, clocks, request-body and query parsing.

use crate::errors::ApiError;
use axum::body::Bytes;
use rand::distr::Alphanumeric;
use rand::Rng;
use serde::de::DeserializeOwned;

/// `prefix` followed by `n` random alphanumeric characters (OpenAI ids: `file-…`, `ftjob-…`).
pub(crate) fn random_id(prefix: &str, n: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// `n` random lowercase alphanumeric characters (the id part of a fine-tuned model name).
pub(crate) fn random_lower(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A request id as OpenAI sends in `x-request-id`: `req_` and 32 hex digits.
pub(crate) fn request_id() -> String {
    let v: u128 = rand::rng().random();
    format!("req_{v:032x}")
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix seconds for a millisecond timestamp.
pub(crate) fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Parses a JSON request body into `T`, with OpenAI-like errors.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            None,
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(
            format!("{value} is not of type 'object'"),
            None,
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}"), None))
}

/// The query string as decoded `(key, value)` pairs.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// First value of `key` in the pairs.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Parses an integer query parameter within `[min, max]`.
pub(crate) fn query_int(
    pairs: &[(String, String)],
    key: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match query_get(pairs, key) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(ApiError::invalid(
                format!("Invalid '{key}': expected an integer between {min} and {max}, got '{v}'."),
                Some(key),
            )),
        },
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        let p = query_pairs(Some("metadata%5Brun%5D=a%20b&limit=2&x"));
        assert_eq!(query_get(&p, "metadata[run]"), Some("a b"));
        assert_eq!(query_get(&p, "limit"), Some("2"));
        assert_eq!(query_get(&p, "x"), Some(""));
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn ids_have_the_right_shape() {
        let id = random_id("file-", 24);
        assert_eq!(id.len(), 29);
        assert!(request_id().starts_with("req_"));
        assert_eq!(request_id().len(), 36);
    }
}
