//! What the calls return and what the stages of a run hand each other: data only.
//!
//! The types the exported calls return cross to JavaScript as they serialize (camelCase, `null`
//! for `None`), and with the `ts` feature derive `ts_rs::TS`, from which the binding's
//! TypeScript declarations are generated: their doc comments are the JSDoc users read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::Job;
use super::entry::{FineTuneRecord, ModelRef};
use super::options::Promote;

/// Summary of a job's result file: losses, accuracy and steps.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "TrainingMetrics"))]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    /// The highest step that has any value (0 when there is none).
    pub steps: u64,
    /// The train loss at the last step that has one.
    pub final_train_loss: Option<f64>,
    /// The lowest train loss.
    pub best_train_loss: Option<f64>,
    /// The validation loss at the last step that has one.
    pub final_valid_loss: Option<f64>,
    /// The lowest validation loss.
    pub best_valid_loss: Option<f64>,
    /// The train accuracy at the last step that has one.
    pub final_train_accuracy: Option<f64>,
    /// The validation accuracy at the last step that has one.
    pub final_valid_accuracy: Option<f64>,
    /// Tokens billed for training, passed through from the job (`trained_tokens`).
    pub trained_tokens: Option<u64>,
}

/// What `trainAndRegisterFineTunedModel` (and `importFineTuneJob`) registered.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RegisteredModel {
    /// The key agents use as their `model`.
    pub model_key: String,
    /// The agent the model was fine-tuned for.
    pub agent_name: String,
    /// The model that was fine-tuned.
    pub base_model: String,
    /// The fine-tuned model's OpenAI id, `ft:<base>:<org>:<suffix>:<id>`.
    pub fine_tuned_model: String,
    /// The fine-tuning job's id.
    pub job_id: String,
    /// The uploaded training file's id.
    pub training_file_id: String,
    /// The uploaded validation file's id, when there was validation data.
    pub validation_file_id: Option<String>,
    /// The fine-tuned model's suffix.
    pub suffix: String,
    /// Tokens billed for training, as reported by OpenAI.
    pub trained_tokens: Option<u64>,
    /// When the job was created (ISO 8601).
    pub created_at: String,
    /// When the job finished (ISO 8601).
    pub finished_at: String,
    /// The absolute path of the registry the model was written to.
    pub registry_path: String,
    /// Summary of OpenAI's training metrics (losses, accuracy, steps), when available.
    pub metrics: Option<MetricsSummary>,
    /// The loss curve, an SVG file beside the registry (`<modelKey>.svg`), when drawn.
    pub curve_path: Option<String>,
    /// The base model's shutdown date (`YYYY-MM-DD`) when the API announces one: the
    /// fine-tuned model stops answering then.
    pub base_shutdown_date: Option<String>,
    /// The model as the registry holds it for TaskForce: `name` is what an agent's client
    /// sends (the Azure deployment's name once deployed, else `fineTunedModel`), `baseUrl`
    /// where it answers when not at OpenAI (Azure OpenAI's v1 base URL).
    pub model: ModelRef,
    /// Azure: the deployment, or `null` when not deployed; absent on OpenAI.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable, as = "Option<Deployment>"))]
    pub deployment: Option<Value>,
    /// Azure, not deployed: the `az` command that deploys the model.
    pub deploy_command: Option<String>,
    /// What to know: a base model shutting down within 90 days, an undeployed model, Azure's
    /// rules for idle and Developer-tier deployments.
    pub warnings: Vec<String>,
    /// Whether `modelKey` resolves to this model now (`promote: "ifBetter"` keeps the
    /// current one unless the evaluation says `better`).
    pub promoted: bool,
    /// The model the key resolved to before, when it was registered.
    pub previous_model: Option<String>,
    /// The evaluation against the baseline, when `evaluate` ran.
    pub evaluation: Option<EvaluationReport>,
    /// Why the evaluation could not run (the model is registered anyway).
    pub evaluation_error: Option<String>,
}

/// An Azure deployment of a fine-tuned model, as the registry records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The deployment's name: the model an agent's client sends.
    pub name: String,
    /// The fine-tuned model it serves.
    pub model: String,
    /// `Developer`, `Standard` or `GlobalStandard`.
    pub sku: String,
    /// Thousands of tokens per minute.
    pub capacity: u32,
    pub subscription_id: String,
    pub resource_group: String,
    /// The Azure OpenAI resource's name.
    pub resource_name: String,
    /// Azure's state of it when registered (`Succeeded`).
    pub provisioning_state: String,
    /// When it was deployed (ISO 8601).
    pub deployed_at: String,
    /// Developer tier: when Azure removes it (ISO 8601); else `null`.
    pub expires_at: Option<String>,
    /// Azure's rule for deployments that stay idle.
    pub inactivity_rule: String,
}

/// What the stages before registration found, for the entry and the result.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// The base model's lifecycle check.
    pub base: BaseModelCheck,
    /// The deployment stage's outcome.
    pub deployed: Deployed,
    /// The evaluation after the job, when `evaluate` ran.
    pub evaluated: Evaluated,
}

impl RegisteredModel {
    /// What registering `f` (a succeeded job's record) under `model_key` returns, as far as the
    /// record and the registration say; the caller adds what only it knows (metrics, curve,
    /// where the model answers, warnings, the evaluation).
    pub fn of_record(
        model_key: String,
        fine_tuned_model: String,
        model: ModelRef,
        f: FineTuneRecord,
        registry_path: String,
        outcome: VersionOutcome,
    ) -> RegisteredModel {
        RegisteredModel {
            model_key,
            fine_tuned_model,
            agent_name: f.agent_name,
            base_model: f.base_model,
            job_id: f.job_id,
            training_file_id: f.training_file_id,
            validation_file_id: f.validation_file_id,
            suffix: f.suffix,
            trained_tokens: f.trained_tokens,
            created_at: f.created_at,
            finished_at: f.finished_at,
            registry_path,
            metrics: None,
            curve_path: None,
            base_shutdown_date: f.base_shutdown_date,
            model,
            deployment: f.deployment,
            deploy_command: f.deploy_command,
            warnings: Vec::new(),
            promoted: outcome.promoted,
            previous_model: outcome.previous_model,
            evaluation: None,
            evaluation_error: None,
        }
    }
}

/// One grader's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GraderScore {
    pub name: String,
    /// Examples this grader applied to.
    pub examples: u64,
    pub candidate_mean: f64,
    pub baseline_mean: f64,
    /// `candidateMean - baselineMean`.
    pub difference: f64,
    /// 2.5th percentile of the paired-bootstrap difference.
    pub ci_low: f64,
    /// 97.5th percentile.
    pub ci_high: f64,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    /// Two-sided p-value of the exact sign test on wins against losses (ties dropped); 1
    /// when there is neither.
    #[serde(default = "one")]
    pub p_value: f64,
    /// The minimum of `candidateMean` asked for (`minScores`), if any.
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Answers this grader could not score (a caller's grader that threw or returned no
    /// number); their examples are left out of `examples`.
    #[serde(default)]
    pub errors: u64,
}

fn one() -> f64 {
    1.0
}

/// Tokens used, per model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "EvaluationUsage"))]
#[serde(rename_all = "camelCase")]
pub struct EvalUsage {
    pub candidate_prompt_tokens: u64,
    pub candidate_completion_tokens: u64,
    pub baseline_prompt_tokens: u64,
    pub baseline_completion_tokens: u64,
    pub judge_prompt_tokens: u64,
    pub judge_completion_tokens: u64,
    pub total_tokens: u64,
}

/// What an evaluation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EvaluationReport {
    pub candidate: String,
    pub baseline: String,
    pub model_key: Option<String>,
    /// The data set (a path, a URL without its secrets, or `file-…` for the entry's
    /// validation file).
    pub data: String,
    pub examples: u64,
    pub primary_grader: String,
    /// The data support "the candidate is better" on the primary grader: enough paired
    /// examples, the exact sign test below 0.05 with more wins than losses, and the
    /// paired-bootstrap 95 % interval of the difference above 0 (see `verdictMethod`).
    pub better: bool,
    /// Why `better` is false (too few examples, the test, the interval, a partial run).
    #[serde(default)]
    pub reason: Option<String>,
    /// How `better` was decided, in words.
    #[serde(default)]
    pub verdict_method: String,
    /// Some answers are missing (a request failed after its retries, or the cost limit
    /// stopped the run): the scores are over `answered` examples only, and `better` is false.
    /// Calling again with the same settings resumes: only the missing answers are asked for.
    #[serde(default)]
    pub partial: bool,
    /// Examples with both answers (all of them unless `partial`).
    #[serde(default)]
    pub answered: u64,
    /// Answers taken from the answer store instead of asked again.
    #[serde(default)]
    pub reused_answers: u64,
    /// Answers asked for and paid for by this call.
    #[serde(default)]
    pub new_answers: u64,
    pub graders: Vec<GraderScore>,
    /// The first answers a grader could not score (each grader's `errors` counts them all).
    #[serde(default)]
    pub grader_errors: Vec<super::evaluation::GraderError>,
    /// Tokens of the answers this call paid for.
    pub usage: EvalUsage,
    /// Estimated before the first request, for the answers not in the store; `None` when a
    /// model's price is unknown.
    pub estimated_cost_usd: Option<f64>,
    /// What this call paid, from the tokens used (reused answers cost nothing).
    pub cost_usd: Option<f64>,
    /// The date the prices were taken.
    pub price_date: String,
    /// JSONL: every example's reference, both answers and their scores.
    pub output_path: String,
    /// The answer store this call read and added to (`null` without one).
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// The JUnit XML report, when `junitPath` was given.
    #[serde(default)]
    pub junit_path: Option<String>,
    pub seed: u64,
    pub duration_ms: u64,
    pub evaluated_at: String,
}

/// The pipeline's evaluation of a new model: its report, or why it could not run.
#[derive(Debug, Clone, Default)]
pub struct Evaluated {
    pub report: Option<EvaluationReport>,
    pub error: Option<String>,
}

impl Evaluated {
    /// Whether the new model becomes current: always with `promote: "always"`; with
    /// `"ifBetter"`, only when the evaluation ran and says `better`.
    pub fn promote(&self, policy: Promote) -> bool {
        match policy {
            Promote::Always => true,
            Promote::IfBetter => self.report.as_ref().is_some_and(|r| r.better),
        }
    }
}

/// One model a modelKey has had, as `listModelVersions` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ModelVersion"))]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The model as the registry holds it (`name`: `ft:…`); what the key's `model` becomes
    /// when this version is promoted.
    pub model: ModelRef,
    /// Whether the modelKey resolves to it now.
    pub current: bool,
    /// Its fine-tuning job.
    pub job_id: Option<String>,
    /// The model it was fine-tuned from.
    pub base_model: Option<String>,
    /// When its job was created (ISO 8601).
    pub created_at: Option<String>,
    /// When its job finished (ISO 8601).
    pub finished_at: Option<String>,
    /// When it was registered under the key (ISO 8601).
    pub registered_at: Option<String>,
    /// Its training metrics' summary.
    pub metrics: Option<MetricsSummary>,
    /// Its evaluation report, when one ran.
    pub evaluation: Option<EvaluationReport>,
}

/// What registering a version did.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionOutcome {
    /// Whether the key resolves to the new model now.
    pub promoted: bool,
    /// The model the key resolved to before, if it was registered.
    pub previous_model: Option<String>,
    /// How many versions the key has now.
    pub versions: usize,
}

/// What `removeRegisteredModel` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RemovedModel"))]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// The key that was removed.
    pub model_key: String,
    /// Every model the key had (its versions).
    pub models: Vec<String>,
    /// The fine-tuned models deleted at the API (`deleteRemote`).
    pub deleted_remote: Vec<String>,
}

/// What the base-model check found, for the registry entry and the result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseModelCheck {
    /// The base model's shutdown date, when the API announces one.
    pub shutdown_date: Option<String>,
    /// A warning for the result (the base shuts down within 90 days).
    pub warning: Option<String>,
}

/// Whether and when a registered model stops answering, from what its entry records (the base
/// model's `baseShutdownDate`, an Azure deployment's expiry, or no deployment at all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct StopsAnswering {
    /// The date (`YYYY-MM-DD`) or instant (ISO 8601) it stops answering, when known.
    pub at: Option<String>,
    /// Whole days from today (negative: already passed).
    pub days_left: Option<i64>,
    /// `shutDown` (passed), `soon` (within the window: 90 days, or `withinDays`),
    /// `scheduled`, `undeployed` (Azure, not deployed: it answers nothing), `deleted` (Azure,
    /// the deployment is gone) or `unknown`
    /// (no date announced).
    #[cfg_attr(
        feature = "ts",
        ts(type = "'shutDown' | 'soon' | 'scheduled' | 'undeployed' | 'deleted' | 'unknown'")
    )]
    pub status: String,
    /// Why, in words.
    pub reason: String,
}

/// One registered model, as `checkRegisteredModels` found it (`ops::doctor`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelCheck {
    /// The key it is registered under.
    pub model_key: String,
    /// The agent it was fine-tuned for, when recorded.
    pub agent_name: Option<String>,
    /// The model as the registry holds it (`name`: what the agent's client sends).
    pub model: ModelRef,
    /// The model whose shutdown date applies (the fine-tuned model's base).
    pub base_model: String,
    /// The base model's shutdown date as the API gives it now (else as recorded).
    pub base_shutdown_date: Option<String>,
    /// Whether the date was read from the API now (`false`: recorded, or unknown).
    pub refreshed: bool,
    pub stops_answering: StopsAnswering,
    /// Past its date, within the window, or undeployed: `fine-tune doctor` exits non-zero.
    pub failing: bool,
    /// Other facts to know (Azure's idle-deployment rule…).
    pub notes: Vec<String>,
}

/// What the deployment stage decided for the registry entry and the result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployed {
    /// The model an agent's client sends: the deployment's name, else the model id.
    pub model_name: String,
    /// Where it answers (Azure's v1 base URL); `None` on OpenAI.
    pub base_url: Option<String>,
    /// `None` on OpenAI; `Some(null)` on Azure when not deployed; the deployment otherwise.
    pub deployment: Option<Value>,
    /// The `az` command that deploys the model, when this stage did not.
    pub deploy_command: Option<String>,
    /// What the caller should know.
    pub warnings: Vec<String>,
}

/// One registered model, as `getRegisteredModel` and `listRegisteredModels` return it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RegistryEntry"))]
#[serde(rename_all = "camelCase")]
pub struct EntryInfo {
    /// The key agents use as their `model`.
    pub model_key: String,
    /// The model TaskForce's loader reads (`models.json[modelKey].model`).
    pub model: ModelRef,
    /// How it was trained; `null` on entries this library did not write.
    pub fine_tune: Option<FineTuneRecord>,
    /// Whether and when the model stops answering.
    pub stops_answering: StopsAnswering,
}

/// A run in flight, as journaled beside the registry (`<registry dir>/.runs/`): interrupted,
/// aborted or timed out runs that a call with the same options resumes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct InFlightRun {
    /// The key the run registers.
    pub model_key: String,
    /// This library's id of the run, sent as the job's `metadata.run_id`.
    pub run_id: String,
    pub agent_name: String,
    pub base_model: String,
    pub suffix: String,
    /// The API the run talks to (without secrets).
    pub base_url: String,
    /// The uploaded training file, once uploaded.
    pub training_file_id: Option<String>,
    /// The uploaded validation file, once uploaded.
    pub validation_file_id: Option<String>,
    /// The create-job request was sent (its answer may not have arrived).
    pub job_requested: bool,
    /// The job, once created.
    pub job_id: Option<String>,
    /// When the run started (ISO 8601).
    pub started_at: String,
}

/// A fine-tuning job as the API reports it now, its times in ISO 8601.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FineTuneJob {
    /// The job's id (`ftjob-…`).
    pub id: String,
    /// `validating_files`, `queued`, `running`, `succeeded`, `failed`, `cancelled` (or a status
    /// this library does not know yet, such as `paused`).
    pub status: String,
    /// The base model.
    pub model: Option<String>,
    /// The fine-tuned model, once the job succeeded.
    pub fine_tuned_model: Option<String>,
    /// Tokens billed, once it succeeded.
    pub trained_tokens: Option<i64>,
    /// When it was created (ISO 8601).
    pub created_at: Option<String>,
    /// When it finished (ISO 8601).
    pub finished_at: Option<String>,
    /// When OpenAI expects it to finish (ISO 8601), when it says.
    pub estimated_finish: Option<String>,
    /// Why a failed job failed.
    pub error: Option<JobError>,
    pub training_file: Option<String>,
    pub validation_file: Option<String>,
    /// Its result files (the metrics CSV).
    pub result_files: Vec<String>,
    /// Its metadata (this library sets `model_key`, `agent_name`, `run_id`…).
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Why a fine-tuning job failed, as the API says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct JobError {
    /// OpenAI's error code, e.g. `invalid_training_file`.
    pub code: Option<String>,
    pub message: Option<String>,
    /// The parameter at fault.
    pub param: Option<String>,
}

/// Unix seconds as ISO 8601 (`None` for a time out of range).
pub fn unix_to_iso(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl From<Job> for FineTuneJob {
    fn from(j: Job) -> Self {
        let error = j.error_parts().map(|(code, message, param)| JobError {
            code,
            message,
            param,
        });
        let time = |t: Option<i64>| t.and_then(unix_to_iso);
        // Metadata values are strings in the API; anything else is left out.
        let metadata = j.metadata.as_ref().and_then(Value::as_object).map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        });
        FineTuneJob {
            error,
            metadata,
            created_at: time(j.created_at),
            finished_at: time(j.finished_at),
            estimated_finish: time(j.estimated_finish),
            id: j.id,
            status: j.status,
            model: j.model,
            fine_tuned_model: j.fine_tuned_model,
            trained_tokens: j.trained_tokens,
            training_file: j.training_file,
            validation_file: j.validation_file,
            result_files: j.result_files,
        }
    }
}
