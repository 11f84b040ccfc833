//! Secrets kept out of text: a URL's user info and query values never reach a message, a log
//! or a file.

/// A URL as it may be shown or stored: without its user info, its query values (signed URLs'
/// tokens: `?X-Amz-Signature=…`) and its fragment. A URL with none of them comes back as it
/// was; text that is not a URL becomes `<url>`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
            {
                return raw.to_string();
            }
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let query = u.query().map(|q| {
                q.split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((k, _)) => format!("{k}=…"),
                        None => "…".to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            });
            u.set_query(None);
            u.set_fragment(None);
            let mut out = u.to_string();
            if let Some(q) = query {
                out.push('?');
                out.push_str(&q);
            }
            out
        }
        Err(_) => "<url>".into(),
    }
}

/// `text` with every http(s) URL in it redacted as [`redact_url`] does (for messages of
/// other libraries, and answers that echo a URL).
pub fn redact_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(i) = ["http://", "https://"]
        .iter()
        .filter_map(|p| lower[rest..].find(p))
        .min()
    {
        let start = rest + i;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"'<>(){}`|\\^".contains(c))
            .map_or(text.len(), |j| start + j);
        out.push_str(&text[rest..start]);
        out.push_str(&redact_url(&text[start..end]));
        rest = end;
    }
    out.push_str(&text[rest..]);
    out
}

/// An error with its causes, e.g. "error sending request: connection refused". URLs in it
/// are redacted ([`redact_text`]).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    redact_text(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets_in_urls() {
        let r = redact_url("https://u:p@x.test/a.jsonl?sig=secret&X-Amz-Credential=AKIA#tok");
        assert_eq!(r, "https://x.test/a.jsonl?sig=…&X-Amz-Credential=…");
        assert_eq!(
            redact_url("https://api.openai.com/v1"),
            "https://api.openai.com/v1"
        );
        let t = redact_text(
            "error sending request for url (http://user:pw@127.0.0.1:9/a?token=s3cr3t): refused; see https://x.test/?k=v",
        );
        assert!(
            !t.contains("s3cr3t") && !t.contains("pw") && !t.contains("=v"),
            "{t}"
        );
        assert!(t.contains("http://127.0.0.1:9/a?token=…)"), "{t}");
        assert_eq!(redact_text("no url here"), "no url here");
        let t = redact_text("refused: http://[::1]:8080/a?sig=s3cr3t.");
        assert!(!t.contains("s3cr3t"), "{t}");
    }
}
