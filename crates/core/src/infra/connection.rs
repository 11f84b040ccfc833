//! How to reach the API: the one place the connection options meet the environment.

use crate::calc::checks::{invalid, non_empty};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{ConnectionOptions, DEFAULT_AZURE_API_VERSION, DEFAULT_BASE_URL};
use crate::types::redact::redact_url;

fn env(name: &str) -> Option<String> {
    non_empty(std::env::var(name).ok())
}

/// How to reach the API, after the environment fallbacks. `Debug` hides the key.
#[derive(Clone)]
pub struct Connection {
    pub api_key: String,
    pub base_url: String,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub max_retries: u32,
    /// Set for Azure OpenAI: its `api-version`.
    pub azure_api_version: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_key", &"<redacted>")
            .field("base_url", &redact_url(&self.base_url))
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("max_retries", &self.max_retries)
            .field("azure_api_version", &self.azure_api_version)
            .finish()
    }
}

/// How to reach the API. An explicit `baseUrl` wins; else an Azure endpoint (option, then
/// `AZURE_OPENAI_ENDPOINT` unless `OPENAI_BASE_URL` is set) selects Azure OpenAI (`api-key`
/// header, `api-version` query, `/openai/...` paths, key from `AZURE_OPENAI_API_KEY`); else
/// `OPENAI_BASE_URL`, else OpenAI. Keys: the option, else `OPENAI_API_KEY`.
pub fn connection(o: ConnectionOptions) -> Result<Connection> {
    let explicit_base = non_empty(o.base_url);
    let azure_endpoint = if explicit_base.is_some() {
        None
    } else {
        non_empty(o.azure_endpoint).or_else(|| {
            if env("OPENAI_BASE_URL").is_some() {
                None
            } else {
                env("AZURE_OPENAI_ENDPOINT")
            }
        })
    };
    let (base_url, azure) = match azure_endpoint {
        Some(ep) => {
            let version = non_empty(o.api_version)
                .or_else(|| env("OPENAI_API_VERSION"))
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_string());
            let ep = check_base_url(&ep)?;
            (format!("{ep}/openai"), Some(version))
        }
        None => (
            explicit_base
                .or_else(|| env("OPENAI_BASE_URL"))
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            None,
        ),
    };
    let key_env = if azure.is_some() {
        "AZURE_OPENAI_API_KEY"
    } else {
        "OPENAI_API_KEY"
    };
    let api_key = non_empty(o.api_key)
        .or_else(|| env(key_env))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MissingApiKey,
                format!("no API key: pass apiKey or set {key_env}"),
            )
            .with_param("apiKey")
        })?;
    let organization = non_empty(o.organization).or_else(|| env("OPENAI_ORG_ID"));
    let project = non_empty(o.project).or_else(|| env("OPENAI_PROJECT_ID"));
    check_header_value(
        "organization",
        "OPENAI_ORG_ID",
        organization.as_deref(),
        true,
    )?;
    check_header_value("project", "OPENAI_PROJECT_ID", project.as_deref(), true)?;
    check_header_value("apiKey", key_env, Some(&api_key), false)?;
    Ok(Connection {
        api_key,
        base_url: check_base_url(&base_url)?,
        organization,
        project,
        max_retries: o.max_retries.unwrap_or(2).min(10),
        azure_api_version: azure,
    })
}

/// A value sent as an HTTP header (`OpenAI-Organization`, `OpenAI-Project`, the key) must be
/// visible ASCII or UTF-8 text without control characters: a CR or LF would otherwise fail
/// every request as if the API could not be reached. The key's value is never shown.
fn check_header_value(param: &str, env_name: &str, v: Option<&str>, show: bool) -> Result<()> {
    let Some(v) = v else { return Ok(()) };
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        let shown = if show {
            format!(" {v:?}")
        } else {
            String::new()
        };
        return Err(invalid(
            param,
            format!(
                "{param} (or {env_name}){shown} contains the control character {c:?}; it is sent as an HTTP header, which cannot hold it"
            ),
        ));
    }
    Ok(())
}

fn check_base_url(raw: &str) -> Result<String> {
    let shown = redact_url(raw);
    let parsed = url::Url::parse(raw)
        .map_err(|e| invalid("baseUrl", format!("baseUrl is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            "baseUrl",
            format!("baseUrl {shown} must be an http(s) URL"),
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

impl Connection {
    /// Whether a run talks to Azure OpenAI: an Azure endpoint, or a base URL on Azure's hosts.
    pub fn is_azure(&self) -> bool {
        if self.azure_api_version.is_some() {
            return true;
        }
        url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .is_some_and(|h| {
                h.ends_with(".openai.azure.com")
                    || h.ends_with(".cognitiveservices.azure.com")
                    || h.ends_with(".services.ai.azure.com")
            })
    }

    /// The v1 base URL an OpenAI client uses to reach the resource's deployments
    /// (`https://<resource>.openai.azure.com/openai/v1`).
    pub fn v1_base_url(&self) -> String {
        let b = self.base_url.trim_end_matches('/');
        if b.ends_with("/openai/v1") {
            b.to_string()
        } else if b.ends_with("/openai") {
            format!("{b}/v1")
        } else {
            format!("{b}/openai/v1")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_urls() {
        let c = |b: &str, v: Option<&str>| Connection {
            api_key: "k".into(),
            base_url: b.into(),
            organization: None,
            project: None,
            max_retries: 0,
            azure_api_version: v.map(str::to_string),
        };
        assert_eq!(
            c("https://r.openai.azure.com/openai", Some("x")).v1_base_url(),
            "https://r.openai.azure.com/openai/v1"
        );
        assert_eq!(
            c("https://r.openai.azure.com/openai/v1", None).v1_base_url(),
            "https://r.openai.azure.com/openai/v1"
        );
        assert!(c("https://r.openai.azure.com/openai/v1", None).is_azure());
        assert!(!c("https://api.openai.com/v1", None).is_azure());
    }
}
