//! How to reach the API: one [`Connection`] (base URL and API flavour, [`Auth`], org/project
//! headers, retry policy), resolved from a call's [`ConnectionOptions`] and the environment by
//! [`connection`]. This file is the one place the connection's environment variables are
//! read: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`,
//! `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY`, `OPENAI_API_VERSION` and, for Azure's
//! control plane, `AZURE_ACCESS_TOKEN`.
//!
//! Azure OpenAI (facts: `/work/shared/azure/facts.md` §1): an endpoint without an api-version
//! is Azure's v1 API (`{endpoint}/openai/v1`, no `api-version` query); a dated api-version is
//! one of those with a capability table ([`crate::calc::azure_api`]). Either takes the key in
//! the `api-key` header (declared by both specs) or, without a key, a Microsoft Entra ID token
//! for [`DATA_PLANE_SCOPE`] as `Authorization: Bearer`.

use std::time::Duration;

use crate::calc::azure_api::{
    caps_of, known_versions, ApiCaps, ARM_SCOPE, AZURE_2024_10_21, AZURE_V1, DATA_PLANE_SCOPE, V1,
};
use crate::calc::checks::{invalid, non_empty};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{ConnectionOptions, RetryDelays, DEFAULT_BASE_URL};
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
/// refresh. A JavaScript callback can be one (`azureToken`).
pub type TokenProvider = TokenFn;

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
    /// Azure's control plane (Azure Resource Manager) at `management_url`, authenticated by
    /// `auth` (see [`control_plane_auth`]), retried as `retry` says.
    pub fn control_plane(management_url: &str, auth: Auth, retry: Retry) -> Connection {
        Connection {
            base_url: management_url.trim_end_matches('/').to_string(),
            flavour: Flavour::OpenAi,
            auth,
            organization: None,
            project: None,
            retry,
        }
    }

    /// What the Azure API version this connection speaks declares (`None` for OpenAI). A dated
    /// version without a table (only a hand-made connection can have one) gets 2024-10-21's,
    /// the narrowest.
    pub fn caps(&self) -> Option<&'static ApiCaps> {
        match &self.flavour {
            Flavour::OpenAi => None,
            Flavour::AzureV1 => Some(&AZURE_V1),
            Flavour::AzureDated { api_version } => {
                Some(caps_of(api_version).unwrap_or(&AZURE_2024_10_21))
            }
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

/// Whether a base URL is Azure OpenAI's v1 API: one of Azure OpenAI's hosts, or a path
/// ending in `/openai/v1` (Azure's shape, facts §1).
fn is_azure_v1_url(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or("");
    host.ends_with(".openai.azure.com")
        || host.ends_with(".cognitiveservices.azure.com")
        || host.ends_with(".services.ai.azure.com")
        || u.path().trim_end_matches('/').ends_with("/openai/v1")
}

/// The Azure flavour of an api-version (`None`: the v1 API). `from` names where it came from.
fn azure_flavour(version: Option<String>, from: &str) -> Result<Flavour> {
    match version.as_deref() {
        None | Some(V1) => Ok(Flavour::AzureV1),
        Some(v) if caps_of(v).is_some() => Ok(Flavour::AzureDated {
            api_version: v.to_string(),
        }),
        Some(v) => Err(invalid(
            "apiVersion",
            format!(
                "{from} {v:?} is not an Azure OpenAI api-version this library knows the capabilities of ({}); leave it out to use the v1 API",
                known_versions()
            ),
        )),
    }
}

/// An Azure endpoint as given, without a trailing `/openai` or `/openai/v1`.
fn azure_endpoint_root(ep: &str) -> &str {
    let ep = ep.trim_end_matches('/');
    ep.strip_suffix("/openai/v1")
        .or_else(|| ep.strip_suffix("/openai"))
        .unwrap_or(ep)
}

/// Resolves the connection: an explicit `baseUrl` wins (Azure's v1 API when it is one of
/// Azure's hosts or ends in `/openai/v1`); else an Azure endpoint (option, then
/// `AZURE_OPENAI_ENDPOINT` unless `OPENAI_BASE_URL` is set) selects Azure: the v1 API
/// (`{endpoint}/openai/v1`) unless `apiVersion` (or `OPENAI_API_VERSION`) names a dated
/// version with a table, key from `AZURE_OPENAI_API_KEY`; else `OPENAI_BASE_URL`, else
/// OpenAI. Keys: the option, else the environment. Explicit values always beat the
/// environment. Azure without a key authenticates with Microsoft Entra ID when `token` is
/// given (asked for [`DATA_PLANE_SCOPE`]).
pub fn connection(o: ConnectionOptions) -> Result<Connection> {
    let token = o.token.clone();
    connection_in(o, &env, token.as_ref())
}

/// [`connection`] with `env` as the environment.
fn connection_in(
    o: ConnectionOptions,
    env: &dyn Fn(&str) -> Option<String>,
    token: Option<&TokenFn>,
) -> Result<Connection> {
    let Target {
        base_url,
        flavour,
        key_envs,
    } = target(
        non_empty(o.base_url),
        non_empty(o.azure_endpoint),
        non_empty(o.api_version),
        env,
    )?;
    let api_key = non_empty(o.api_key).or_else(|| key_envs.iter().find_map(|k| env(k)));
    let organization = non_empty(o.organization).or_else(|| env("OPENAI_ORG_ID"));
    let project = non_empty(o.project).or_else(|| env("OPENAI_PROJECT_ID"));
    check_header_value(
        "organization",
        "OPENAI_ORG_ID",
        organization.as_deref(),
        true,
    )?;
    check_header_value("project", "OPENAI_PROJECT_ID", project.as_deref(), true)?;
    let auth = auth(api_key, key_envs, flavour != Flavour::OpenAi, token)?;
    Ok(Connection {
        base_url,
        auth,
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

/// Which API a connection reaches: its base URL, flavour, and the environment variables its
/// key may come from (the first is the one named in messages).
struct Target {
    base_url: String,
    flavour: Flavour,
    key_envs: &'static [&'static str],
}

/// The API the options (then the environment) name: an explicit base URL wins; else an Azure
/// endpoint (`AZURE_OPENAI_ENDPOINT` only when `OPENAI_BASE_URL` is not set); else
/// `OPENAI_BASE_URL`, else OpenAI.
fn target(
    explicit_base: Option<String>,
    azure_endpoint: Option<String>,
    explicit_version: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target> {
    let azure_endpoint = if explicit_base.is_some() {
        None
    } else {
        azure_endpoint.or_else(|| {
            if env("OPENAI_BASE_URL").is_some() {
                None
            } else {
                env("AZURE_OPENAI_ENDPOINT")
            }
        })
    };
    match azure_endpoint {
        Some(ep) => azure_target(&ep, explicit_version, env),
        None => {
            let base = explicit_base
                .or_else(|| env("OPENAI_BASE_URL"))
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
            base_url_target(&base, explicit_version)
        }
    }
}

/// An Azure endpoint's API: the v1 API (`{endpoint}/openai/v1`) unless `apiVersion` (else
/// `OPENAI_API_VERSION`) names a dated version (`{endpoint}/openai`).
fn azure_target(
    endpoint: &str,
    explicit_version: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target> {
    let flavour = match explicit_version {
        Some(v) => azure_flavour(Some(v), "apiVersion")?,
        None => azure_flavour(env("OPENAI_API_VERSION"), "OPENAI_API_VERSION")?,
    };
    let ep = check_base_url(endpoint)?;
    let root = azure_endpoint_root(&ep);
    let base_url = match flavour {
        Flavour::AzureV1 => format!("{root}/openai/v1"),
        _ => format!("{root}/openai"),
    };
    Ok(Target {
        base_url,
        flavour,
        key_envs: &["AZURE_OPENAI_API_KEY"],
    })
}

/// A base URL's API: Azure's v1 API when it is one (which takes no dated `apiVersion`), else
/// OpenAI's.
fn base_url_target(base: &str, explicit_version: Option<String>) -> Result<Target> {
    let base_url = check_base_url(base)?;
    if !is_azure_v1_url(&base_url) {
        return Ok(Target {
            base_url,
            flavour: Flavour::OpenAi,
            key_envs: &["OPENAI_API_KEY"],
        });
    }
    if let Some(v) = explicit_version.filter(|v| v != V1) {
        return Err(invalid(
            "apiVersion",
            format!(
                "apiVersion {v:?} is a dated Azure api-version, but baseUrl is Azure's v1 API: pass azureEndpoint (the resource's endpoint) with apiVersion instead of baseUrl, or leave apiVersion out"
            ),
        ));
    }
    Ok(Target {
        base_url,
        flavour: Flavour::AzureV1,
        key_envs: &["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"],
    })
}

/// How requests authenticate: the key (Azure's `api-key` header, else a bearer token); on
/// Azure without a key, the Microsoft Entra ID `token` provider; else `ERR_MISSING_API_KEY`.
fn auth(
    api_key: Option<String>,
    key_envs: &[&str],
    azure: bool,
    token: Option<&TokenFn>,
) -> Result<Auth> {
    if let Some(k) = api_key {
        check_header_value("apiKey", key_envs[0], Some(&k), false)?;
        let key = Secret::new(k);
        return Ok(if azure {
            Auth::ApiKey(key)
        } else {
            Auth::Bearer(key)
        });
    }
    match token {
        Some(provider) if azure => Ok(Auth::Entra {
            scope: DATA_PLANE_SCOPE.to_string(),
            provider: provider.clone(),
        }),
        _ => {
            let alt = if azure {
                ", or give azureToken (a Microsoft Entra ID token provider)"
            } else {
                ""
            };
            Err(Error::new(
                ErrorCode::MissingApiKey,
                format!(
                    "no API key: pass apiKey or set {}{alt}",
                    key_envs.join(" or ")
                ),
            )
            .with_param("apiKey"))
        }
    }
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

/// How Azure's control plane (Azure Resource Manager) is authenticated: the `azureToken`
/// provider, asked for [`ARM_SCOPE`] before each request; else `AZURE_ACCESS_TOKEN` as a
/// bearer token; `None` when neither gives one.
pub fn control_plane_auth(provider: Option<&TokenFn>) -> Option<Auth> {
    match provider {
        Some(p) => Some(Auth::Entra {
            scope: ARM_SCOPE.to_string(),
            provider: p.clone(),
        }),
        None => non_empty(env("AZURE_ACCESS_TOKEN")).map(|t| Auth::Bearer(Secret::new(t))),
    }
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
    use std::sync::Arc;

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
            Auth::Entra { scope, .. } => ("entra", scope.clone()),
        }
    }

    fn resolve(o: ConnectionOptions, vars: &[(&str, &str)]) -> Result<Connection> {
        connection_in(o, &with_env(vars), None)
    }

    const ENV: &[(&str, &str)] = &[
        ("OPENAI_API_KEY", "sk-env"),
        ("OPENAI_BASE_URL", "http://env.test/v1/"),
        ("OPENAI_ORG_ID", "org-env"),
        ("OPENAI_PROJECT_ID", "proj-env"),
        ("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com"),
        ("AZURE_OPENAI_API_KEY", "az-env"),
        ("OPENAI_API_VERSION", "2025-04-01-preview"),
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
        let c = resolve(o, ENV).unwrap();
        assert_eq!(c.base_url, "http://opt.test/v1");
        assert_eq!(key(&c), ("bearer", "sk-opt".into()));
        assert_eq!(c.organization.as_deref(), Some("org-opt"));
        // What the options leave out comes from the environment.
        assert_eq!(c.project.as_deref(), Some("proj-env"));
        assert_eq!((c.flavour, c.retry.max_retries), (Flavour::OpenAi, 5));
        assert_eq!(c.retry.max_delay, Duration::from_millis(2));
        // Without options: the environment (OPENAI_BASE_URL wins over AZURE_OPENAI_ENDPOINT).
        let c = resolve(ConnectionOptions::default(), ENV).unwrap();
        assert_eq!(c.base_url, "http://env.test/v1");
        assert_eq!(key(&c), ("bearer", "sk-env".into()));
        assert_eq!(c.retry, Retry::default());
        // Without either: OpenAI, and no key is an error naming the variable.
        let c = resolve(
            ConnectionOptions {
                api_key: Some("k".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(c.caps().is_none());
        let e = resolve(ConnectionOptions::default(), &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingApiKey);
        assert!(e.message.contains("OPENAI_API_KEY"), "{}", e.message);
    }

    #[test]
    fn an_azure_endpoint_is_the_v1_api_unless_a_dated_version_is_named() {
        let azure_env: Vec<(&str, &str)> = ENV
            .iter()
            .copied()
            .filter(|(k, _)| *k != "OPENAI_BASE_URL")
            .collect();
        // AZURE_OPENAI_ENDPOINT + OPENAI_API_VERSION: the dated API, its own key variable,
        // sent as `api-key`.
        let c = resolve(ConnectionOptions::default(), &azure_env).unwrap();
        assert_eq!(c.base_url, "https://env.openai.azure.com/openai");
        assert_eq!(c.api_version(), Some("2025-04-01-preview"));
        assert_eq!(key(&c), ("api-key", "az-env".into()));
        assert_eq!(c.caps().unwrap().version, "2025-04-01-preview");
        // No api-version anywhere: the v1 API, no api-version query.
        let o = ConnectionOptions {
            azure_endpoint: Some("https://r.openai.azure.com/".into()),
            api_key: Some("k".into()),
            ..Default::default()
        };
        let c = resolve(o.clone(), &[]).unwrap();
        assert_eq!(
            (c.base_url.as_str(), c.api_version(), &c.flavour),
            (
                "https://r.openai.azure.com/openai/v1",
                None,
                &Flavour::AzureV1
            )
        );
        assert_eq!(key(&c), ("api-key", "k".into()));
        assert_eq!(c.v1_base_url(), "https://r.openai.azure.com/openai/v1");
        // An endpoint given with its /openai/v1 path is the same resource.
        let c2 = resolve(
            ConnectionOptions {
                azure_endpoint: Some("https://r.openai.azure.com/openai/v1".into()),
                ..o.clone()
            },
            &[],
        )
        .unwrap();
        assert_eq!(c2.base_url, c.base_url);
        // apiVersion "v1" is the v1 API; the option beats the variable.
        let c = resolve(
            ConnectionOptions {
                api_version: Some("v1".into()),
                ..o.clone()
            },
            &azure_env,
        )
        .unwrap();
        assert_eq!(c.flavour, Flavour::AzureV1);
        let c = resolve(
            ConnectionOptions {
                api_version: Some("2024-10-21".into()),
                ..o.clone()
            },
            &[],
        )
        .unwrap();
        assert_eq!(c.base_url, "https://r.openai.azure.com/openai");
        assert_eq!(c.caps().unwrap().version, "2024-10-21");
        // A version without a capability table is refused, naming where it came from.
        let e = resolve(
            ConnectionOptions {
                api_version: Some("2024-02-01".into()),
                ..o.clone()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (ErrorCode::InvalidOption, Some("apiVersion"))
        );
        let e = resolve(o.clone(), &[("OPENAI_API_VERSION", "2024-02-01")]).unwrap_err();
        assert!(e.message.contains("OPENAI_API_VERSION"), "{}", e.message);
        // An explicit baseUrl wins over an Azure endpoint; on Azure's hosts (or an
        // /openai/v1 path) it is the v1 API, with the `api-key` header.
        for url in [
            "https://r.openai.azure.com/openai/v1",
            "http://127.0.0.1:5/openai/v1/",
        ] {
            let c = resolve(
                ConnectionOptions {
                    base_url: Some(url.into()),
                    ..o.clone()
                },
                &[],
            )
            .unwrap();
            assert_eq!((&c.flavour, key(&c).0), (&Flavour::AzureV1, "api-key"));
        }
        let e = resolve(
            ConnectionOptions {
                base_url: Some("https://r.openai.azure.com/openai/v1".into()),
                api_version: Some("2024-10-21".into()),
                ..o.clone()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiVersion"));
    }

    #[test]
    fn azure_without_a_key_uses_the_entra_token_provider() {
        let o = ConnectionOptions {
            azure_endpoint: Some("https://r.openai.azure.com".into()),
            ..Default::default()
        };
        let e = resolve(o.clone(), &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingApiKey);
        assert!(e.message.contains("azureToken"), "{}", e.message);
        let provider: TokenFn = Arc::new(|_: &str| Box::pin(async { Ok("t".to_string()) }));
        let c = connection_in(o.clone(), &with_env(&[]), Some(&provider)).unwrap();
        assert_eq!(key(&c), ("entra", DATA_PLANE_SCOPE.into()));
        // A key wins; OpenAI never takes the token.
        let c = connection_in(
            ConnectionOptions {
                api_key: Some("k".into()),
                ..o
            },
            &with_env(&[]),
            Some(&provider),
        )
        .unwrap();
        assert_eq!(key(&c).0, "api-key");
        let e = connection_in(
            ConnectionOptions::default(),
            &with_env(&[]),
            Some(&provider),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingApiKey);
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
        let c = resolve(o, &[]).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk-secret-1") && !shown.contains("hunter"),
            "{shown}"
        );
        assert!(shown.contains("Bearer(<redacted>)"), "{shown}");
        let cp = Connection::control_plane(
            "https://arm.test/",
            Auth::Bearer(Secret::new("tok-1")),
            c.retry.clone(),
        );
        assert!(!format!("{cp:?}").contains("tok-1"));
        assert_eq!(cp.base_url, "https://arm.test");
    }

    #[test]
    fn the_control_plane_asks_the_provider_for_the_arm_scope() {
        let f: TokenFn = Arc::new(|_: &str| Box::pin(async { Ok("tok".to_string()) }));
        match control_plane_auth(Some(&f)) {
            Some(Auth::Entra { scope, .. }) => assert_eq!(scope, ARM_SCOPE),
            other => panic!("{other:?}"),
        }
    }
}
