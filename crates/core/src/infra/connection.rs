//! How to reach the API: one [`Connection`] (base URL and API flavour, [`Auth`], org/project
//! headers, retry policy), resolved from a call's [`ConnectionOptions`] and the environment by
//! [`connection`]. This file is the one place the connection's environment variables are
//! read: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`,
//! `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY`, `OPENAI_API_VERSION` and, for Azure's
//! control plane, `AZURE_ACCESS_TOKEN`.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::calc::checks::{invalid, non_empty};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{
    ConnectionOptions, RetryDelays, DEFAULT_AZURE_API_VERSION, DEFAULT_BASE_URL,
};
use crate::types::progress::TokenFn;
use crate::types::redact::redact_url;

fn env(name: &str) -> Option<String> {
    non_empty(std::env::var(name).ok())
}

/// A secret (an API key, a token): `Debug` shows `<redacted>`, and it has no `Display`, so it
/// cannot end up in a message by accident. [`Secret::expose`] is for the request only.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, to put in a request's header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which API a connection speaks, which decides its paths and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavour {
    /// OpenAI, or any server with its API (`<base>/files`, `<base>/fine_tuning/jobs`…).
    OpenAi,
    /// Azure OpenAI's v1 API, addressed as OpenAI's (`https://<resource>.openai.azure.com/openai/v1`).
    AzureV1,
    /// Azure OpenAI's dated API: `<endpoint>/openai/…` with an `api-version` query.
    AzureDated {
        /// The `api-version` every request carries.
        api_version: String,
    },
}

/// Gives a Microsoft Entra ID access token for a scope (e.g.
/// `https://cognitiveservices.azure.com/.default`): asked before every request, so it may
/// refresh. A JavaScript callback can be one.
pub type TokenProvider = Arc<dyn Fn(&str) -> BoxFuture<'static, Result<String>> + Send + Sync>;

/// How requests authenticate. `Debug` names the kind, never the secret.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <key>`: an OpenAI key (or an Azure key on the v1 API, or a
    /// token already fetched).
    Bearer(Secret),
    /// Azure's `api-key: <key>` header.
    ApiKey(Secret),
    /// `Authorization: Bearer <token>`, the token asked of `provider` for `scope`.
    Entra {
        scope: String,
        provider: TokenProvider,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Auth::Entra { scope, .. } => write!(f, "Entra({scope})"),
        }
    }
}

/// When and how often a failed request is sent again: openai-node's policy by default
/// (2 retries, 0.5 s doubling to 8 s, minus up to 25 % jitter). A setting
/// ([`ConnectionOptions::retry_delays`]), so that tests can shorten the delays.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Retries per request (`maxRetries`, at most 10).
    pub max_retries: u32,
    /// The first delay; each retry doubles it.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        let d = RetryDelays::default();
        Retry {
            max_retries: 2,
            initial_delay: d.initial,
            max_delay: d.max,
        }
    }
}

/// How to reach the API, after the environment fallbacks. `Debug` hides the secrets (and a
/// base URL's user info and query values).
#[derive(Clone)]
pub struct Connection {
    /// Where requests go, without a trailing `/` (`https://api.openai.com/v1`,
    /// `https://<resource>.openai.azure.com/openai`…).
    pub base_url: String,
    pub flavour: Flavour,
    pub auth: Auth,
    /// `OpenAI-Organization`.
    pub organization: Option<String>,
    /// `OpenAI-Project`.
    pub project: Option<String>,
    pub retry: Retry,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("base_url", &redact_url(&self.base_url))
            .field("flavour", &self.flavour)
            .field("auth", &self.auth)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Connection {
    /// Azure's control plane (Azure Resource Manager) at `management_url`, with a Microsoft
    /// Entra ID token, retried like `data_plane`.
    pub fn control_plane(
        management_url: &str,
        token: Secret,
        data_plane: &Connection,
    ) -> Connection {
        Connection {
            base_url: management_url.trim_end_matches('/').to_string(),
            flavour: Flavour::OpenAi,
            auth: Auth::Bearer(token),
            organization: None,
            project: None,
            retry: data_plane.retry.clone(),
        }
    }

    /// The `api-version` of Azure's dated API.
    pub fn api_version(&self) -> Option<&str> {
        match &self.flavour {
            Flavour::AzureDated { api_version } => Some(api_version),
            _ => None,
        }
    }

    /// Whether a run talks to Azure OpenAI (either flavour).
    pub fn is_azure(&self) -> bool {
        self.flavour != Flavour::OpenAi
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

/// Whether a host is one of Azure OpenAI's.
fn is_azure_host(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h.ends_with(".openai.azure.com")
                || h.ends_with(".cognitiveservices.azure.com")
                || h.ends_with(".services.ai.azure.com")
        })
}

/// Resolves the connection: an explicit `baseUrl` wins (on Azure's hosts it is Azure's v1
/// API); else an Azure endpoint (option, then `AZURE_OPENAI_ENDPOINT` unless
/// `OPENAI_BASE_URL` is set) selects Azure's dated API (`api-key` header, `api-version` query,
/// `/openai/...` paths, key from `AZURE_OPENAI_API_KEY`); else `OPENAI_BASE_URL`, else OpenAI.
/// Keys: the option, else `OPENAI_API_KEY`. Explicit values always beat the environment.
pub fn connection(o: ConnectionOptions) -> Result<Connection> {
    connection_in(o, &env)
}

/// [`connection`] with `env` as the environment.
fn connection_in(o: ConnectionOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Connection> {
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
    let (base_url, flavour) = match azure_endpoint {
        Some(ep) => {
            let api_version = non_empty(o.api_version)
                .or_else(|| env("OPENAI_API_VERSION"))
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_string());
            let ep = check_base_url(&ep)?;
            (format!("{ep}/openai"), Flavour::AzureDated { api_version })
        }
        None => {
            let base = explicit_base
                .or_else(|| env("OPENAI_BASE_URL"))
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
            let base = check_base_url(&base)?;
            let flavour = if is_azure_host(&base) {
                Flavour::AzureV1
            } else {
                Flavour::OpenAi
            };
            (base, flavour)
        }
    };
    let dated = matches!(flavour, Flavour::AzureDated { .. });
    let key_env = if dated {
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
    let key = Secret::new(api_key);
    Ok(Connection {
        base_url,
        auth: if dated {
            Auth::ApiKey(key)
        } else {
            Auth::Bearer(key)
        },
        flavour,
        organization,
        project,
        retry: Retry {
            max_retries: o.max_retries.unwrap_or(2).min(10),
            initial_delay: o.retry_delays.unwrap_or_default().initial,
            max_delay: o.retry_delays.unwrap_or_default().max,
        },
    })
}

/// Whether the options or the environment name an API (`baseUrl`, `azureEndpoint`,
/// `OPENAI_BASE_URL`, `AZURE_OPENAI_ENDPOINT`); when none does, a call on a run's job asks the
/// API the run journaled.
pub fn names_an_api(o: &ConnectionOptions) -> bool {
    o.base_url.is_some()
        || o.azure_endpoint.is_some()
        || env("OPENAI_BASE_URL").is_some()
        || env("AZURE_OPENAI_ENDPOINT").is_some()
}

/// The Microsoft Entra ID token for Azure's control plane: the `azureToken` callback, else
/// `AZURE_ACCESS_TOKEN`; `None` when neither gives one.
pub async fn control_plane_token(callback: Option<&TokenFn>) -> Result<Option<Secret>> {
    let token = match callback {
        Some(f) => Some(f().await?),
        None => std::env::var("AZURE_ACCESS_TOKEN").ok(),
    };
    Ok(non_empty(token).map(Secret::new))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn key(c: &Connection) -> (&'static str, String) {
        match &c.auth {
            Auth::Bearer(k) => ("bearer", k.expose().to_string()),
            Auth::ApiKey(k) => ("api-key", k.expose().to_string()),
            Auth::Entra { .. } => ("entra", String::new()),
        }
    }

    const ENV: &[(&str, &str)] = &[
        ("OPENAI_API_KEY", "sk-env"),
        ("OPENAI_BASE_URL", "http://env.test/v1/"),
        ("OPENAI_ORG_ID", "org-env"),
        ("OPENAI_PROJECT_ID", "proj-env"),
        ("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com"),
        ("AZURE_OPENAI_API_KEY", "az-env"),
        ("OPENAI_API_VERSION", "2025-01-01"),
    ];

    #[test]
    fn explicit_options_beat_the_environment() {
        let o = ConnectionOptions {
            api_key: Some("sk-opt".into()),
            base_url: Some("http://opt.test/v1".into()),
            organization: Some("org-opt".into()),
            max_retries: Some(5),
            retry_delays: Some(RetryDelays {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
            }),
            ..Default::default()
        };
        let c = connection_in(o, &with_env(ENV)).unwrap();
        assert_eq!(c.base_url, "http://opt.test/v1");
        assert_eq!(key(&c), ("bearer", "sk-opt".into()));
        assert_eq!(c.organization.as_deref(), Some("org-opt"));
        // What the options leave out comes from the environment.
        assert_eq!(c.project.as_deref(), Some("proj-env"));
        assert_eq!((c.flavour, c.retry.max_retries), (Flavour::OpenAi, 5));
        assert_eq!(c.retry.max_delay, Duration::from_millis(2));
        // Without options: the environment (OPENAI_BASE_URL wins over AZURE_OPENAI_ENDPOINT).
        let c = connection_in(ConnectionOptions::default(), &with_env(ENV)).unwrap();
        assert_eq!(c.base_url, "http://env.test/v1");
        assert_eq!(key(&c), ("bearer", "sk-env".into()));
        assert_eq!(c.retry, Retry::default());
        // Without either: OpenAI, and no key is an error naming the variable.
        let c = connection_in(
            ConnectionOptions {
                api_key: Some("k".into()),
                ..Default::default()
            },
            &with_env(&[]),
        )
        .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        let e = connection_in(ConnectionOptions::default(), &with_env(&[])).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingApiKey);
        assert!(e.message.contains("OPENAI_API_KEY"), "{}", e.message);
    }

    #[test]
    fn azure_or_openai() {
        let azure_env: Vec<(&str, &str)> = ENV
            .iter()
            .copied()
            .filter(|(k, _)| *k != "OPENAI_BASE_URL")
            .collect();
        // AZURE_OPENAI_ENDPOINT: Azure's dated API, its own key variable and api-version.
        let c = connection_in(ConnectionOptions::default(), &with_env(&azure_env)).unwrap();
        assert_eq!(c.base_url, "https://env.openai.azure.com/openai");
        assert_eq!(c.api_version(), Some("2025-01-01"));
        assert_eq!(key(&c), ("api-key", "az-env".into()));
        assert!(c.is_azure());
        // The option beats the variable; the default api-version without either.
        let o = ConnectionOptions {
            azure_endpoint: Some("https://opt.openai.azure.com/".into()),
            api_version: Some("2024-02-01".into()),
            api_key: Some("az-opt".into()),
            ..Default::default()
        };
        let c = connection_in(o, &with_env(ENV)).unwrap();
        assert_eq!(c.base_url, "https://opt.openai.azure.com/openai");
        assert_eq!(c.api_version(), Some("2024-02-01"));
        assert_eq!(key(&c), ("api-key", "az-opt".into()));
        let o = ConnectionOptions {
            azure_endpoint: Some("https://r.openai.azure.com".into()),
            api_key: Some("k".into()),
            ..Default::default()
        };
        let c = connection_in(o, &with_env(&[])).unwrap();
        assert_eq!(c.api_version(), Some(DEFAULT_AZURE_API_VERSION));
        // An explicit baseUrl wins over an Azure endpoint; on Azure's hosts it is the v1 API.
        let o = ConnectionOptions {
            azure_endpoint: Some("https://r.openai.azure.com".into()),
            base_url: Some("https://r.openai.azure.com/openai/v1".into()),
            api_key: Some("k".into()),
            ..Default::default()
        };
        let c = connection_in(o, &with_env(&[])).unwrap();
        assert_eq!(
            (c.flavour.clone(), c.api_version()),
            (Flavour::AzureV1, None)
        );
        assert_eq!(key(&c).0, "bearer");
        assert!(c.is_azure());
        assert_eq!(c.v1_base_url(), "https://r.openai.azure.com/openai/v1");
    }

    #[test]
    fn no_secret_in_debug() {
        let o = ConnectionOptions {
            api_key: Some("sk-secret-1".into()),
            base_url: Some("http://user:hunter2@x.test/v1?token=hunter3".into()),
            ..Default::default()
        };
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("sk-secret-1") && !shown.contains("hunter"),
            "{shown}"
        );
        let c = connection_in(o, &with_env(&[])).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk-secret-1") && !shown.contains("hunter"),
            "{shown}"
        );
        assert!(shown.contains("Bearer(<redacted>)"), "{shown}");
        let cp = Connection::control_plane("https://arm.test/", Secret::new("tok-1"), &c);
        assert!(!format!("{cp:?}").contains("tok-1"));
        assert_eq!(cp.base_url, "https://arm.test");
    }

    #[tokio::test]
    async fn the_control_plane_token_comes_from_the_callback_first() {
        let f: TokenFn = Arc::new(|| Box::pin(async { Ok(" tok ".to_string()) }));
        let t = control_plane_token(Some(&f)).await.unwrap().unwrap();
        assert_eq!(t.expose(), "tok");
        let blank: TokenFn = Arc::new(|| Box::pin(async { Ok("  ".to_string()) }));
        assert!(control_plane_token(Some(&blank)).await.unwrap().is_none());
    }
}
