//! A run's options after every check and every fallback: what the pipeline runs with. The
//! job's request is made from it (so the options digest and the idempotency key are digests of
//! that same request).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::calc::checks::check_run;
use crate::infra::client::IDEMPOTENCY_KEY;
use crate::infra::connection::{connection, Connection};
use crate::infra::registry::registry_path;
use crate::types::api::{CreateJobRequest, JobMethod};
use crate::types::error::Result;
use crate::types::options::{ConnectionOptions, DownloadLimits, TrainOptions, RESERVED_METADATA};

/// Options after every check: what the pipeline runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub opts: TrainOptions,
    pub suffix: String,
    pub registry_path: PathBuf,
    pub poll_interval: Duration,
    pub timeout: Option<Duration>,
    /// See [`TrainOptions::file_processing_timeout_ms`].
    pub file_processing_timeout: Duration,
    pub connection: Connection,
    /// What bounds a URL source's download.
    pub download_limits: DownloadLimits,
    pub upload_threshold_bytes: u64,
    pub upload_part_bytes: u64,
}

/// Runs every check that needs no disk and no network, in the order a user would want the
/// answers, and fills in the environment fallbacks.
///
/// Azure without a key authenticates with the options' token provider (`azureToken`). On
/// Azure, an option the API version cannot honour is refused here (see
/// `calc::azure_api::ApiCaps::check_run`), and a suffix derived from the agent's name is made
/// to fit the version's rule.
pub fn resolve(mut o: TrainOptions) -> Result<Resolved> {
    let mut s = check_run(&mut o)?;
    let registry_path = registry_path(o.registry_path.clone());
    // The key goes to the connection only (never kept in the options).
    let connection = connection(ConnectionOptions {
        api_key: o.connection.api_key.take(),
        ..o.connection.clone()
    })?;
    if let Some(caps) = connection.caps() {
        let user_suffix = o.suffix.as_deref().map(str::trim).filter(|x| !x.is_empty());
        let user_metadata = o
            .metadata
            .keys()
            .any(|k| !RESERVED_METADATA.contains(&k.as_str()));
        caps.check_run(
            o.method,
            !o.integrations.is_empty(),
            user_metadata,
            user_suffix,
        )?;
        if user_suffix.is_none() {
            s.suffix = caps.fit_suffix(&s.suffix);
        }
    }
    Ok(Resolved {
        opts: o,
        suffix: s.suffix,
        registry_path,
        poll_interval: s.poll_interval,
        timeout: s.timeout,
        file_processing_timeout: s.file_processing_timeout,
        connection,
        download_limits: s.limits,
        upload_threshold_bytes: s.upload_threshold_bytes,
        upload_part_bytes: s.upload_part_bytes,
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Resolved {
    /// The create-job request of a run, with the files it uploaded and its run id.
    pub fn job_request(
        &self,
        training_file: &str,
        validation_file: Option<&str>,
        run_id: &str,
        idempotency_key: &str,
    ) -> CreateJobRequest {
        let o = &self.opts;
        let mut metadata: BTreeMap<String, String> = o.metadata.clone();
        metadata.insert("model_key".into(), truncate(&o.model_key, 512));
        metadata.insert("agent_name".into(), truncate(&o.agent_name, 512));
        metadata.insert("run_id".into(), run_id.to_string());
        metadata.insert(IDEMPOTENCY_KEY.into(), idempotency_key.to_string());
        CreateJobRequest {
            model: o.base_model.clone(),
            training_file: training_file.to_string(),
            validation_file: validation_file.map(str::to_string),
            suffix: Some(self.suffix.clone()).filter(|s| !s.is_empty()),
            method: JobMethod::new(o.method, o.hyperparameters.clone()),
            seed: o.seed,
            integrations: o.integrations.clone(),
            metadata,
        }
    }

    /// The digest of everything that makes the job what it is: the serialized request (without
    /// the file ids and run id, which the run makes), the data sources and the API it goes to.
    /// Secrets and knobs that only steer this process (timeouts, retries, paths) are not in it.
    pub fn options_digest(&self) -> String {
        let o = &self.opts;
        let template = self.job_request("", o.validation.as_deref().map(|_| ""), "", "");
        let c = &self.connection;
        let v = json!({
            "request": template,
            "source": o.source,
            "validation": o.validation,
            "baseUrl": c.base_url,
            "organization": c.organization,
            "project": c.project,
        });
        let mut v = v;
        if let Some(split) = o.validation_split {
            v["validationSplit"] = json!(split);
        }
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        Sha256::digest(&bytes)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The run's idempotency key: a digest of the job's request without what a run makes (file
    /// ids, run id) — so of the modelKey, agent, base model, suffix, method, hyperparameters,
    /// seed, integrations and metadata — and of the data's digest. Not of where the data is read
    /// from (two checkouts of the same data in different folders make the same key) nor of the
    /// API it goes to (the key is only ever looked up at that API).
    pub fn idempotency_key(&self, data_digest: &str) -> String {
        let template = self.job_request("", self.opts.validation.as_deref().map(|_| ""), "", "");
        let v = json!({ "request": template, "data": data_digest });
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        Sha256::digest(&bytes)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calc::checks::{check_suffix, derive_suffix};
    use crate::types::error::ErrorCode;
    use crate::types::options::{
        from_json_object, Auto, EvaluateOptions, ImportOptions, OptionKind, OptionSpec,
        RemoteOptions, RemoveOptions, OPTIONS,
    };
    use serde_json::json;

    fn base() -> TrainOptions {
        TrainOptions {
            agent_name: "Content Writer".into(),
            model_key: "cw".into(),
            base_model: "gpt-4o-mini-2024-07-18".into(),
            source: "data.jsonl".into(),
            connection: ConnectionOptions {
                api_key: Some("sk-test".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn names_every_missing_field() {
        let e = resolve(TrainOptions::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingOption);
        for f in ["agentName", "modelKey", "baseModel", "source"] {
            assert!(e.message.contains(f), "{}", e.message);
        }
    }

    #[test]
    fn derives_suffix_like_taskforce_but_clean() {
        assert_eq!(derive_suffix("Content Writer"), "content-writer");
        assert_eq!(derive_suffix("  Ünïcode  Agent!! "), "n-code-agent");
        assert_eq!(derive_suffix(&"a".repeat(100)).len(), 64);
        assert_eq!(resolve(base()).unwrap().suffix, "content-writer");
    }

    #[test]
    fn an_agent_name_without_usable_characters_still_gets_a_suffix() {
        let s = derive_suffix("🚀🤖");
        assert!(s.starts_with("agent-") && s.len() == 14, "{s}");
        check_suffix(&s).unwrap();
        assert_ne!(s, derive_suffix("🎉"));
        assert_eq!(s, derive_suffix(" 🚀🤖 "));
        let mut o = base();
        o.agent_name = "🚀🤖".into();
        assert_eq!(resolve(o).unwrap().suffix, s);
        // Only dashes left is no suffix either.
        assert!(derive_suffix("--").starts_with("agent-"));
    }

    #[test]
    fn control_characters_in_headers_are_invalid_options() {
        for (field, value) in [("organization", "org-1\r\nX: y"), ("project", "pr\noj")] {
            let mut o = base();
            match field {
                "organization" => o.connection.organization = Some(value.into()),
                _ => o.connection.project = Some(value.into()),
            }
            let e = resolve(o).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidOption, "{field}");
            assert_eq!(e.param.as_deref(), Some(field));
        }
        let mut o = base();
        o.connection.api_key = Some("sk-sec\nret".into());
        let e = resolve(o).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiKey"));
        assert!(!e.message.contains("sk-sec"), "{}", e.message);
    }

    #[test]
    fn base_url_secrets_are_not_shown() {
        let mut o = base();
        o.connection.base_url = Some("ftp://u:hunter2@x.test/v1?k=hunter3".into());
        let e = resolve(o).unwrap_err();
        assert!(!e.message.contains("hunter"), "{}", e.message);
        let mut o = base();
        o.connection.base_url = Some("http://u:hunter2@x.test/v1".into());
        let r = resolve(o).unwrap();
        assert!(!format!("{:?}", r.connection).contains("hunter2"));
    }

    #[test]
    fn refuses_bad_suffix() {
        let mut o = base();
        o.suffix = Some("x".repeat(65));
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
        let mut o = base();
        o.suffix = Some("has space".into());
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
    }

    #[test]
    fn refuses_other_vendors() {
        let mut o = base();
        o.base_model = "claude-3-haiku".into();
        assert_eq!(
            resolve(o).unwrap_err().code,
            ErrorCode::UnsupportedBaseModel
        );
    }

    #[test]
    fn refuses_path_like_keys() {
        for k in ["../x", "a/b", "..", "a\\b", " x"] {
            let mut o = base();
            o.model_key = k.into();
            assert_eq!(
                resolve(o).unwrap_err().code,
                ErrorCode::InvalidOption,
                "{k}"
            );
        }
    }

    #[test]
    fn range_checks_name_the_field() {
        let mut o = base();
        o.hyperparameters.n_epochs = Some(Auto::Value(0));
        let e = resolve(o).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("hyperparameters.nEpochs"));
        let mut o = base();
        o.hyperparameters.learning_rate_multiplier = Some(Auto::Value(-1.0));
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
    }

    /// A value of each option that is valid and differs from [`base`]'s.
    fn example(spec: &OptionSpec) -> serde_json::Value {
        use serde_json::json;
        match (spec.name, spec.kind) {
            ("method", _) => json!("dpo"),
            ("baseModel", _) => json!("gpt-4.1-mini-2025-04-14"),
            ("baseUrl", _) => json!("http://127.0.0.1:9/v1"),
            ("azureEndpoint", _) => json!("https://res.openai.azure.com"),
            ("azureDeployment", _) => {
                json!({"subscriptionId": "s", "resourceGroup": "g", "resourceName": "r"})
            }
            ("onExisting", _) => json!("newVersion"),
            ("promote", _) => json!("always"),
            ("evaluate", _) => json!({"graders": ["exact"]}),
            ("validationSplit", _) => json!(0.2),
            (_, OptionKind::String) => json!("other"),
            (_, OptionKind::Number) => json!(7),
            (_, OptionKind::NumberOrAuto) => json!(2),
            (_, OptionKind::Boolean) => json!(true),
            (_, OptionKind::KeyValue) => json!({"team": "x"}),
            (_, OptionKind::Json) => json!([{"type": "wandb", "wandb": {"project": "p"}}]),
        }
    }

    fn with(mut v: serde_json::Value, spec: &OptionSpec) -> serde_json::Value {
        let value = example(spec);
        match spec.name.split_once('.') {
            Some((outer, inner)) => {
                v[outer][inner] = value;
                if inner == "beta" {
                    v["method"] = "dpo".into();
                }
            }
            None => v[spec.name] = value,
        }
        v
    }

    fn base_json() -> serde_json::Value {
        serde_json::json!({
            "agentName": "Content Writer", "modelKey": "cw",
            "baseModel": "gpt-4o-mini-2024-07-18", "source": "data.jsonl", "apiKey": "sk-test",
            "hyperparameters": {}
        })
    }

    #[test]
    fn the_table_and_the_struct_list_the_same_options() {
        let mut all = base_json();
        for spec in OPTIONS {
            all = with(all, spec);
        }
        // Every name in the table is a field (unknown keys are refused)…
        let o = TrainOptions::from_json(all).unwrap();
        // …and every field is in the table.
        let v = serde_json::to_value(&o).unwrap();
        for (k, inner) in v.as_object().unwrap() {
            if k == "hyperparameters" {
                let n = inner.as_object().unwrap().len();
                let listed = OPTIONS
                    .iter()
                    .filter(|s| s.name.starts_with("hyperparameters."))
                    .count();
                assert_eq!(n, listed, "hyperparameters in the table");
            } else {
                assert!(
                    OPTIONS.iter().any(|s| s.name == k),
                    "{k} is missing from OPTIONS"
                );
            }
        }
    }

    #[test]
    fn the_digest_changes_exactly_with_the_options_that_make_the_job() {
        let digest = |v: serde_json::Value| {
            resolve(TrainOptions::from_json(v).unwrap())
                .unwrap()
                .options_digest()
        };
        for spec in OPTIONS {
            let mut before = base_json();
            if spec.name == "hyperparameters.beta" {
                before["method"] = "dpo".into();
            }
            if spec.name == "evaluate" || spec.name == "promote" {
                // An evaluation needs data (refused before paying otherwise): in both runs.
                before["validation"] = "val.jsonl".into();
            }
            let after = with(before.clone(), spec);
            assert_eq!(
                digest(before) != digest(after),
                spec.affects_job,
                "{}: affectsJob says {}",
                spec.name,
                spec.affects_job
            );
        }
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_option() {
        use serde_json::json;
        let mut v = base_json();
        v["pollIntervalMs"] = json!(1.5);
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        assert_eq!(e.param.as_deref(), Some("pollIntervalMs"));
        let mut v = base_json();
        v["hyperparameters"]["nEpochs"] = json!("many");
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("hyperparameters.nEpochs"));
        let mut v = base_json();
        v["nEpoch"] = json!(3);
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("nEpoch"));
        assert!(e.message.contains("unknown field"), "{}", e.message);
        let mut v = base_json();
        v["integrations"] = json!([{"type": "comet"}]);
        assert_eq!(
            TrainOptions::from_json(v).unwrap_err().param.as_deref(),
            Some("integrations[0].type")
        );
        // null is absent.
        let mut v = base_json();
        v["suffix"] = json!(null);
        v["agentName"] = json!(null);
        let e = resolve(TrainOptions::from_json(v).unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingOption);
    }

    #[test]
    fn debug_hides_the_key() {
        let r = resolve(base()).unwrap();
        assert!(!format!("{r:?}").contains("sk-test"));
    }

    #[test]
    fn remote_options_read_as_one_flat_object() {
        let o: RemoteOptions = from_json_object(
            serde_json::json!({"registryPath": "r.json", "apiKey": "sk-x", "maxRetries": 3, "project": null}),
            "options",
        )
        .unwrap();
        assert_eq!(o.registry_path.as_deref(), Some("r.json"));
        assert_eq!(o.connection.api_key.as_deref(), Some("sk-x"));
        assert_eq!(o.connection.max_retries, Some(3));
        assert!(!format!("{o:?}").contains("sk-x"));
        // A field at fault is named by its path, as in TrainOptions.
        let e =
            from_json_object::<RemoteOptions>(serde_json::json!({"maxRetries": "x"}), "options")
                .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("maxRetries"));
        assert!(
            e.message.starts_with("option maxRetries: invalid type"),
            "{}",
            e.message
        );
        // An unknown key is refused, named.
        let e = from_json_object::<RemoteOptions>(serde_json::json!({"apikey": "x"}), "options")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apikey"));
        assert_eq!(e.message, "option apikey: unknown field `apikey`");
        // The options that embed it read its keys beside their own, in the same object.
        let o: RemoveOptions = from_json_object(
            serde_json::json!({"deleteRemote": true, "baseUrl": "http://x"}),
            "options",
        )
        .unwrap();
        assert!(o.delete_remote);
        assert_eq!(o.connection.base_url.as_deref(), Some("http://x"));
        let e = from_json_object::<EvaluateOptions>(
            serde_json::json!({"model": "m", "apiVersion": 1}),
            "options",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiVersion"));
        // The evaluation's settings are flattened too, read beside the candidate's keys.
        let o: EvaluateOptions = from_json_object(
            json!({"model": "m", "graders": ["exact"], "concurrency": 2, "apiKey": "k"}),
            "options",
        )
        .unwrap();
        assert_eq!(o.settings.concurrency, Some(2));
        assert_eq!(o.model.as_deref(), Some("m"));
        let e = from_json_object::<EvaluateOptions>(
            json!({"model": "m", "concurrency": "x"}),
            "options",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("concurrency"));
        // A key neither the call, its settings nor the connection has is refused, named.
        let e = from_json_object::<EvaluateOptions>(
            json!({"model": "m", "grader": "exact"}),
            "options",
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (ErrorCode::InvalidOption, Some("grader"))
        );
        let Err(e) = from_json_object::<ImportOptions>(
            serde_json::json!({"agentName": "a", "signal": 1}),
            "options",
        ) else {
            panic!("an unknown key is refused")
        };
        assert_eq!(e.param.as_deref(), Some("signal"));
        assert_eq!(e.code, ErrorCode::InvalidOption);
        // Every struct that reaches the API embeds the same connection keys.
        for v in [
            json!({"registryPath": "r", "apiKey": "k", "baseUrl": "http://x", "organization": "o",
                   "project": "p", "azureEndpoint": "https://a", "apiVersion": "v", "maxRetries": 1}),
        ] {
            let r: RemoteOptions = from_json_object(v.clone(), "options").unwrap();
            let i: ImportOptions = from_json_object(v.clone(), "options").unwrap();
            let e: EvaluateOptions = from_json_object(v.clone(), "options").unwrap();
            let d: RemoveOptions = from_json_object(v.clone(), "options").unwrap();
            let mut t = v.clone();
            t["agentName"] = json!("a");
            let t = TrainOptions::from_json(t).unwrap();
            for c in [
                &r.connection,
                &i.connection,
                &e.connection,
                &d.connection,
                &t.connection,
            ] {
                assert_eq!(format!("{c:?}"), format!("{:?}", r.connection));
                assert_eq!(c.max_retries, Some(1));
            }
        }
    }

    fn job_base() -> TrainOptions {
        TrainOptions::from_json(json!({
            "agentName": "Writer", "modelKey": "w", "baseModel": "gpt-4o-mini-2024-07-18",
            "source": "train.jsonl", "apiKey": "sk-test", "baseUrl": "http://127.0.0.1:1/v1"
        }))
        .unwrap()
    }

    #[test]
    fn the_digest_follows_the_request() {
        let r = resolve(job_base()).unwrap();
        let d = r.options_digest();
        assert_eq!(d, resolve(job_base()).unwrap().options_digest());
        let mut o = job_base();
        o.seed = Some(1);
        assert_ne!(d, resolve(o).unwrap().options_digest());
        let mut o = job_base();
        o.poll_interval_ms = Some(1);
        o.connection.api_key = Some("sk-other".into());
        assert_eq!(d, resolve(o).unwrap().options_digest());
    }
}
