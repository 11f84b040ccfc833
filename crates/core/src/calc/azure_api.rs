//! What each Azure OpenAI data-plane API version can do, as Microsoft's specs declare it, and
//! what that means for a run: which options it refuses (before anything is sent) and the shape
//! of the create-job body it gets (never a field its spec does not declare).
//!
//! Every fact here is from `/work/shared/azure/facts.md` (its section in each comment) and the
//! specs it names: **V1** (`{endpoint}/openai/v1`, no dated api-version), **A1021** (the dated
//! authoring API `2024-10-21`), **A25P** (`2025-04-01-preview`). OpenAI itself has no table: it
//! takes everything this library sends.

use serde_json::{Map, Value};

use crate::types::api::{CreateJobRequest, Method};
use crate::types::error::{Error, ErrorCode, Result};

/// The v1 API's name in the table (it has no dated api-version).
pub const V1: &str = "v1";

/// Azure takes training files of at most 512 MB (facts §7: "file ≤512 MB via API"; D-FT:
/// "each file <512 MB").
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The scope of a Microsoft Entra ID token for the data plane (facts §1: V1's OAuth2 scope;
/// newer docs give `https://ai.azure.com/.default`, which a token provider may map to).
pub const DATA_PLANE_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// The scope of a Microsoft Entra ID token for Azure Resource Manager (facts §4: ARM
/// `azure_auth`).
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// What one Azure API version declares.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiCaps {
    /// `v1`, or the dated `api-version`.
    pub version: &'static str,
    /// The `method.type`s the create body declares; empty: no `method` (top-level
    /// `hyperparameters` instead).
    pub methods: &'static [Method],
    /// The create body (and the job) keep `metadata`.
    pub metadata: bool,
    /// The create body takes `integrations` (Weights & Biases).
    pub integrations: bool,
    /// `POST /fine_tuning/jobs/{id}/pause` and `/resume` exist.
    pub pause_resume: bool,
    /// `/uploads` (a file in parts) exists.
    pub uploads: bool,
    /// Hyperparameters may be `"auto"` (else numbers only: an `auto` is left out, which is
    /// the same as letting the service choose).
    pub auto_hyperparameters: bool,
    /// The dated suffix rule: at most 40 of `a-z A-Z 0-9 - _`.
    pub dated_suffix: bool,
    /// `GET /fine_tuning/jobs` filters by `metadata[...]` (no Azure version does).
    pub job_metadata_filter: bool,
}

/// Azure's v1 API (facts §1, §2 "V1").
pub const AZURE_V1: ApiCaps = ApiCaps {
    version: V1,
    // facts §2: `method` {type: supervised|dpo|reinforcement} (reinforcement is not offered
    // by this library).
    methods: &[Method::Supervised, Method::Dpo],
    // facts §2: create body has `metadata` (16 pairs) and `integrations` [{type:"wandb"}].
    metadata: true,
    integrations: true,
    // facts §2: `POST .../pause`; `POST .../resume`.
    pause_resume: true,
    // facts §2: "No `/uploads` and no `/files/import` in V1".
    uploads: false,
    // facts §2: n_epochs: "auto"|number.
    auto_hyperparameters: true,
    // facts §3: "Suffix: V1 schema 1–64 chars (OpenAI text)".
    dated_suffix: false,
    // facts §2: `GET /fine_tuning/jobs?after=&limit=` (default 20, **no metadata filter**).
    job_metadata_filter: false,
};

/// The dated authoring API 2024-10-21 (facts §2 "Dated A1021").
pub const AZURE_2024_10_21: ApiCaps = ApiCaps {
    version: "2024-10-21",
    // facts §2: `FineTuningJobCreation` = model, training_file, validation_file,
    // hyperparameters (numbers), suffix, seed — no method/metadata/integrations.
    methods: &[],
    metadata: false,
    integrations: false,
    // facts §2: "paths have **no pause/resume**".
    pause_resume: false,
    // facts §2: A1021 has `POST /uploads`, `/uploads/{id}/parts`, `/complete`, `/cancel`.
    uploads: true,
    // A1021 `FineTuningHyperParameters`: n_epochs and batch_size integer,
    // learning_rate_multiplier number (no "auto").
    auto_hyperparameters: false,
    // facts §3: "A1021/A25P schema and D-FT: up to 40 characters (a-z, A-Z, 0-9, - and _)".
    dated_suffix: true,
    job_metadata_filter: false,
};

/// The dated preview 2025-04-01-preview (facts §2 "A25P").
pub const AZURE_2025_04_01_PREVIEW: ApiCaps = ApiCaps {
    version: "2025-04-01-preview",
    // facts §2: "adds `integrations` and `method` (type dpo|supervised only); **no metadata**;
    // has pause/resume".
    methods: &[Method::Supervised, Method::Dpo],
    metadata: false,
    integrations: true,
    pause_resume: true,
    // Not in facts.md for A25P: only A1021's `/uploads` is confirmed, so files go through
    // `/files` (at most 512 MB, facts §7).
    uploads: false,
    // Not confirmed for A25P: numbers only, as on A1021.
    auto_hyperparameters: false,
    dated_suffix: true,
    job_metadata_filter: false,
};

/// Every Azure version with a table, newest first.
pub const AZURE_VERSIONS: [&ApiCaps; 3] = [&AZURE_V1, &AZURE_2025_04_01_PREVIEW, &AZURE_2024_10_21];

/// The table of an Azure API version (`v1`, `2024-10-21`, `2025-04-01-preview`).
pub fn caps_of(version: &str) -> Option<&'static ApiCaps> {
    AZURE_VERSIONS.into_iter().find(|c| c.version == version)
}

/// The versions with a table, for messages.
pub fn known_versions() -> String {
    AZURE_VERSIONS
        .iter()
        .map(|c| c.version)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiCaps {
    /// `api-version 2024-10-21` or `the v1 API`, for messages.
    pub fn name(&self) -> String {
        if self.version == V1 {
            "Azure OpenAI's v1 API".into()
        } else {
            format!("Azure OpenAI api-version {}", self.version)
        }
    }

    /// Where an option this version refuses is available.
    fn elsewhere(&self, what: fn(&ApiCaps) -> bool) -> String {
        let others: Vec<&str> = AZURE_VERSIONS
            .iter()
            .filter(|c| what(c))
            .map(|c| c.version)
            .collect();
        match others.as_slice() {
            [] => String::new(),
            [V1] => "; use the v1 API (leave apiVersion out)".into(),
            more => format!(
                "; use {} (the v1 API: leave apiVersion out)",
                more.join(" or ")
            ),
        }
    }

    fn refuse(&self, param: &str, what: String, why: &str, avail: fn(&ApiCaps) -> bool) -> Error {
        Error::new(
            ErrorCode::InvalidOption,
            format!(
                "{what} is not available on {}: {why}{}",
                self.name(),
                self.elsewhere(avail)
            ),
        )
        .with_param(param)
    }

    /// Refuses, before anything is sent, the options of a run this version cannot honour:
    /// `method: "dpo"` without it, `integrations` (W&B) without them, the caller's own
    /// `metadata` where jobs keep none, and a caller's `suffix` breaking the dated rule.
    pub fn check_run(
        &self,
        method: Method,
        integrations: bool,
        user_metadata: bool,
        user_suffix: Option<&str>,
    ) -> Result<()> {
        // Without `method`, training is supervised (facts §2, A1021).
        if method != Method::Supervised && !self.methods.contains(&method) {
            let why = if self.methods.is_empty() {
                "its job request has no `method` (supervised fine-tuning only)"
            } else {
                "its job request does not declare this method"
            };
            return Err(self.refuse(
                "method",
                format!("method {:?}", method.as_str()),
                why,
                |c| c.methods.contains(&Method::Dpo),
            ));
        }
        if integrations && !self.integrations {
            return Err(self.refuse(
                "integrations",
                "integrations (Weights & Biases)".into(),
                "its job request has no `integrations`",
                |c| c.integrations,
            ));
        }
        if user_metadata && !self.metadata {
            return Err(self.refuse(
                "metadata",
                "metadata".into(),
                "its jobs keep no `metadata`",
                |c| c.metadata,
            ));
        }
        if let Some(s) = user_suffix {
            if self.dated_suffix && !dated_suffix_ok(s) {
                return Err(Error::new(
                    ErrorCode::InvalidOption,
                    format!(
                        "suffix {s:?} is not allowed on {}: up to 40 characters (a-z, A-Z, 0-9, - and _); the v1 API (leave apiVersion out) takes up to 64, and '.'",
                        self.name()
                    ),
                )
                .with_param("suffix"));
            }
        }
        Ok(())
    }

    /// Refuses pausing or resuming a job where the version has no such call.
    pub fn check_pause(&self, action: &str) -> Result<()> {
        if self.pause_resume {
            return Ok(());
        }
        Err(self.refuse(
            "apiVersion",
            format!("{action} (POST /fine_tuning/jobs/{{id}}/{action})"),
            "its paths have no pause or resume",
            |c| c.pause_resume,
        ))
    }

    /// A suffix derived from the agent's name, made to fit this version's rule.
    pub fn fit_suffix(&self, derived: &str) -> String {
        if !self.dated_suffix {
            return derived.to_string();
        }
        let s: String = derived
            .chars()
            .map(|c| if c == '.' { '-' } else { c })
            .take(40)
            .collect();
        s.trim_end_matches('-').to_string()
    }

    /// The create-job body this version gets: the request with every field the version does
    /// not declare left out (`method` becomes top-level `hyperparameters` where there is no
    /// `method`; `metadata` and `integrations` go where they are not kept; `"auto"` values go
    /// where numbers only are declared).
    pub fn job_body(&self, req: &CreateJobRequest) -> Value {
        let mut v = serde_json::to_value(req).unwrap_or(Value::Null);
        let Some(body) = v.as_object_mut() else {
            return v;
        };
        if !self.metadata {
            body.remove("metadata");
        }
        if !self.integrations {
            body.remove("integrations");
        }
        if !self.auto_hyperparameters {
            if let Some(hp) = method_hp(body) {
                hp.retain(|_, v| v.as_str() != Some("auto"));
            }
        }
        if self.methods.is_empty() {
            let hp = method_hp(body).map(std::mem::take).unwrap_or_default();
            body.remove("method");
            if !hp.is_empty() {
                body.insert("hyperparameters".into(), Value::Object(hp));
            }
        }
        v
    }
}

/// The hyperparameters under a body's `method` (`method[method.type].hyperparameters`).
fn method_hp(body: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    let m = body.get_mut("method")?.as_object_mut()?;
    let kind = m.get("type")?.as_str()?.to_string();
    m.get_mut(&kind)?
        .get_mut("hyperparameters")?
        .as_object_mut()
}

/// What the name of a run's uploaded file holds of its idempotency key, so that a second
/// machine finds the job where jobs keep no `metadata` (Azure's dated versions): the files
/// whose name holds it are the key's, and the jobs training on them are its jobs.
pub fn key_marker(key: &str) -> String {
    format!("-ik{key}-")
}

/// The dated suffix rule (facts §3).
pub fn dated_suffix_ok(s: &str) -> bool {
    let n = s.chars().count();
    (1..=40).contains(&n)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::api::{Auto, Hyperparameters, JobMethod};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn req(method: Method) -> CreateJobRequest {
        let mut r = crate::types::api::sample_job_request(method);
        r.validation_file = Some("file-2".into());
        r.method = JobMethod::new(
            method,
            Hyperparameters {
                n_epochs: Some(Auto::Value(2)),
                batch_size: Some(Auto::Auto),
                beta: Some(Auto::Value(0.1)),
                ..Default::default()
            },
        );
        r.metadata = BTreeMap::from([("idempotency_key".to_string(), "k".to_string())]);
        r
    }

    #[test]
    fn each_version_gets_only_what_it_declares() {
        // 2024-10-21: model, training_file, validation_file, hyperparameters (numbers),
        // suffix, seed.
        let b = AZURE_2024_10_21.job_body(&req(Method::Supervised));
        assert_eq!(
            b,
            json!({"model": "gpt-4o-mini-2024-07-18", "training_file": "file-1",
                   "validation_file": "file-2", "suffix": "w", "seed": 7,
                   "hyperparameters": {"n_epochs": 2}})
        );
        // 2025-04-01-preview: method and integrations, no metadata, no "auto".
        let b = AZURE_2025_04_01_PREVIEW.job_body(&req(Method::Dpo));
        assert_eq!(
            b["method"],
            json!({"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.1}}})
        );
        assert!(b.get("metadata").is_none() && b.get("integrations").is_some());
        // v1: all of it.
        let b = AZURE_V1.job_body(&req(Method::Supervised));
        assert_eq!(b, serde_json::to_value(req(Method::Supervised)).unwrap());
    }

    #[test]
    fn refuses_what_a_version_cannot_honour() {
        let d = &AZURE_2024_10_21;
        let e = d.check_run(Method::Dpo, false, false, None).unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (ErrorCode::InvalidOption, Some("method"))
        );
        assert!(
            e.message.contains("2024-10-21") && e.message.contains("2025-04-01-preview"),
            "{}",
            e.message
        );
        let e = d
            .check_run(Method::Supervised, true, false, None)
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("integrations"));
        let e = d
            .check_run(Method::Supervised, false, true, None)
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("metadata"));
        assert!(e.message.contains("v1"), "{}", e.message);
        for bad in ["a".repeat(41), "with.dot".into(), "sp ace".into()] {
            let e = d
                .check_run(Method::Supervised, false, false, Some(&bad))
                .unwrap_err();
            assert_eq!(e.param.as_deref(), Some("suffix"), "{bad}");
        }
        d.check_run(Method::Supervised, false, false, Some(&"a".repeat(40)))
            .unwrap();
        AZURE_V1
            .check_run(Method::Dpo, true, true, Some("with.dot"))
            .unwrap();
        AZURE_2025_04_01_PREVIEW
            .check_run(Method::Dpo, true, false, None)
            .unwrap();
        let e = d.check_pause("pause").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiVersion"));
        assert!(AZURE_V1.check_pause("resume").is_ok());
    }

    #[test]
    fn derived_suffixes_fit_the_dated_rule() {
        let long = format!("{}.x", "a".repeat(50));
        let s = AZURE_2024_10_21.fit_suffix(&long);
        assert!(dated_suffix_ok(&s), "{s}");
        assert_eq!(AZURE_2024_10_21.fit_suffix("writer.v2"), "writer-v2");
        assert_eq!(AZURE_V1.fit_suffix("writer.v2"), "writer.v2");
        assert_eq!(caps_of("2024-10-21"), Some(&AZURE_2024_10_21));
        assert_eq!(caps_of("2024-02-01"), None);
    }
}
