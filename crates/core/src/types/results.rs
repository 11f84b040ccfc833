//! What the calls return and what the stages of a run hand each other: data only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entry::FineTuneRecord;
use super::options::Promote;

/// Summary of a job's metrics. Serialised in camelCase for JavaScript.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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
    /// Passed through from the job (`trained_tokens`).
    pub trained_tokens: Option<u64>,
}
/// What a successful run registered.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredModel {
    pub model_key: String,
    pub agent_name: String,
    pub base_model: String,
    pub fine_tuned_model: String,
    pub job_id: String,
    pub training_file_id: String,
    pub validation_file_id: Option<String>,
    pub suffix: String,
    pub trained_tokens: Option<u64>,
    pub created_at: String,
    pub finished_at: String,
    pub registry_path: String,
    /// Summary of the job's result file (losses, accuracy, steps), when it could be read.
    pub metrics: Option<MetricsSummary>,
    /// The loss curve drawn as SVG beside the registry, when there was one to draw.
    pub curve_path: Option<String>,
    /// The base model's shutdown date (`YYYY-MM-DD`), when the API announces one: the
    /// fine-tuned model stops answering then.
    pub base_shutdown_date: Option<String>,
    /// The model an agent's client sends: the Azure deployment's name once deployed, else the
    /// fine-tuned model's id.
    pub model: String,
    /// Where the model answers, when not at OpenAI (Azure OpenAI's v1 base URL).
    pub base_url: Option<String>,
    /// Azure: the deployment (`null` when not deployed); absent on OpenAI.
    pub deployment: Option<serde_json::Value>,
    /// Azure, not deployed: the `az` command that deploys the model.
    pub deploy_command: Option<String>,
    /// What the caller should know (a base model shutting down soon, an undeployed model…).
    pub warnings: Vec<String>,
    /// Whether the modelKey resolves to this model now (`promote: "ifBetter"` keeps the
    /// current one unless the evaluation says `better`).
    pub promoted: bool,
    /// The model the key resolved to before, when it was registered.
    pub previous_model: Option<String>,
    /// The evaluation against the baseline, when `evaluate` ran.
    pub evaluation: Option<EvaluationReport>,
    /// Why the evaluation could not run, when it failed (the model is registered anyway).
    pub evaluation_error: Option<String>,
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
        model: String,
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
            base_url: None,
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

/// One version as `listModelVersions` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The model's name (`ft:…`).
    pub model: String,
    /// Whether the modelKey resolves to it now.
    pub current: bool,
    pub job_id: Option<String>,
    pub base_model: Option<String>,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub registered_at: Option<String>,
    /// The training metrics' summary.
    pub metrics: Option<Value>,
    /// The evaluation's summary.
    pub evaluation: Option<Value>,
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
#[serde(rename_all = "camelCase")]
pub struct Removed {
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

/// When and why a registered model stops answering, from what its entry records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopsAnswering {
    /// The date (`YYYY-MM-DD`) or instant (ISO 8601) it stops answering, if known.
    pub at: Option<String>,
    /// Whole days from today (negative: already passed).
    pub days_left: Option<i64>,
    /// `shutDown` (passed), `soon` (within the window), `scheduled`, `undeployed`
    /// (Azure, not deployed: it answers nothing), `deleted` (Azure, the deployment is gone:
    /// `doctor` with `AZURE_ACCESS_TOKEN` asked the control plane) or `unknown` (no date
    /// announced).
    pub status: String,
    /// Why, in words.
    pub reason: String,
}

/// One registered model, checked by `checkRegisteredModels` (`ops::doctor`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCheck {
    pub model_key: String,
    /// The agent it was fine-tuned for, when recorded.
    pub agent_name: Option<String>,
    /// The model the agent's client sends.
    pub model: String,
    /// The model whose shutdown date applies.
    pub base_model: String,
    /// The base model's shutdown date as the API gives it now (else as recorded).
    pub base_shutdown_date: Option<String>,
    /// Whether the date was read from the API now (`false`: recorded, or unknown).
    pub refreshed: bool,
    pub stops_answering: StopsAnswering,
    /// The model is past its date or within the window (or undeployed): `doctor` fails.
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
