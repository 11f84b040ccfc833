//! "Did the fine-tune help?": runs a chat-format data set through a candidate model and a
//! baseline, grades both answers of each example against its reference, and reports per grader
//! each model's mean, the difference with a seeded paired-bootstrap 95 % interval, wins, ties,
//! losses and the exact sign test; `better` follows the rule of [`crate::calc::verdict`].
//!
//! One idea per file: [`data`] (where the examples come from), [`settings`] (what runs, checked
//! before anything is sent), [`ask`] (the requests: the answer store, retries, the [`budget`]),
//! [`grade`] (built-in, judge and the caller's graders), [`report`] (scores, verdict, files).
//! This file puts them in order. Answers are kept in the store as they arrive, so a call that
//! stops (a request failing after its retries, the cost limit, an abort) loses nothing: the
//! next call with the same settings sends only what is missing. A call that stops after some
//! examples were answered reports them (`partial: true`) instead of failing.

pub mod ask;
pub mod budget;
pub mod data;
pub mod grade;
pub mod report;
pub mod settings;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

use crate::calc::graders::Answer;
use crate::calc::lifecycle::iso;
use crate::calc::prices::INFERENCE_PRICE_DATE;
use crate::calc::verdict;
use crate::infra::answers::AnswerStore;
use crate::infra::client::Client;
use crate::infra::journal::RunRecord;
use crate::infra::registry::{self, Registry};
use crate::infra::task::blocking;
use crate::stages::Run;
use crate::types::api::Job;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{EvalSettings, EvaluateSetting};
use crate::types::progress::{ProgressEvent, RunContext};
use crate::types::redact::redact_url;
use crate::types::results::{Evaluated, EvaluationReport};

use ask::{Asked, Asker, Got, Progress, Request, Stop};
use budget::Budget;
use data::Example;
use grade::Answered;
use settings::Setup;

pub use data::{load_data, parse_examples};
pub use settings::{default_graders, EVAL_MAX_RETRIES};

/// Who is compared, on what, and where the answers file goes.
pub struct Target {
    pub candidate: String,
    pub baseline: String,
    pub model_key: Option<String>,
    pub data_shown: String,
    pub output_path: PathBuf,
}

/// Loads the data and runs the evaluation of `candidate` against `baseline`. `client` should
/// already be [`Client::patient`].
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &Client,
    registry: &Registry,
    candidate: String,
    baseline: String,
    model_key: Option<String>,
    data: &str,
    settings: EvalSettings,
    ctx: &RunContext,
) -> Result<EvaluationReport> {
    settings::check_numbers(&settings)?;
    let tmp = registry.dir().join(".runs");
    let (text, data_shown) = load_data(client, data, &tmp, ctx).await?;
    let mut examples = blocking(move || parse_examples(&text)).await?;
    if let Some(n) = settings.max_examples {
        examples.truncate(n as usize);
    }
    if examples.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidTrainingData,
            format!(
                "the evaluation data {data_shown:?} holds no chat example with an assistant answer"
            ),
        )
        .with_param("data"));
    }
    let setup = settings::setup(&settings, &examples, &candidate)?;
    let output_path = settings.output_path.clone().map_or_else(
        || data::default_output(registry, model_key.as_deref().unwrap_or(&candidate)),
        PathBuf::from,
    );
    let target = Target {
        candidate,
        baseline,
        model_key,
        data_shown,
        output_path,
    };
    let store = AnswerStore::open(
        registry.dir().join(".eval-cache"),
        redact_url(client.base_url()),
        vec![
            target.candidate.clone(),
            target.baseline.clone(),
            setup.judge_model.clone(),
        ],
        setup.cache,
    )
    .await?;
    let result = execute(client, Some(&store), &target, &examples, &setup, ctx).await;
    store.close().await;
    result
}

/// Two requests per example (candidate, baseline), in that order.
pub fn answer_requests(setup: &Setup, t: &Target, examples: &[Example]) -> Vec<Request> {
    let mut out = Vec::with_capacity(examples.len() * 2);
    for e in examples {
        for model in [&t.candidate, &t.baseline] {
            let mut body = json!({
                "model": model,
                "messages": e.prompt,
                "temperature": setup.temperature,
                "seed": setup.seed,
                "max_completion_tokens": setup.answer_cap,
            });
            if let Some(tools) = &e.tools {
                body["tools"] = tools.clone();
            }
            out.push(Request {
                model: model.clone(),
                body,
                cap: setup.answer_cap,
                what: format!("evaluating {model} on example at line {}", e.line),
            });
        }
    }
    out
}

/// The estimate of what is not in the store (answers as long as the references, judge
/// replies of a few words), announced, and held to `maxCostUsd`: above it, nothing is sent.
fn estimate(
    asker: &Asker,
    reqs: &[Request],
    examples: &[Example],
    setup: &Setup,
    t: &Target,
) -> Result<(u64, Option<f64>)> {
    let stored = asker.stored(reqs);
    let (mut requests, mut tokens, mut cost) = (0u64, 0u64, Some(0.0));
    let mut add = |r: &Request, answer: &Value| {
        let (t, c) = r.expected(answer);
        requests += 1;
        tokens += t;
        cost = cost.zip(c).map(|(a, b)| a + b);
    };
    for (i, (r, s)) in reqs.iter().zip(&stored).enumerate() {
        if s.is_none() {
            add(r, &examples[i / 2].reference_message);
        }
    }
    if setup.judge() {
        let stand_in: Vec<Answered> = examples
            .iter()
            .map(|e| Answered {
                example: e,
                answers: [e.reference.clone(), e.reference.clone()],
            })
            .collect();
        let reply = json!({"role": "assistant", "content": "{\"result\": 0.75, \"steps\": [\"the answer matches the reference\"]}"});
        for r in grade::judge_requests(setup, &stand_in) {
            add(&r, &reply);
        }
    }
    asker.ctx.emit(ProgressEvent::EvaluationStarted {
        candidate: t.candidate.clone(),
        baseline: t.baseline.clone(),
        examples: examples.len() as u64,
        requests,
        estimated_tokens: tokens,
        estimated_cost_usd: cost,
    });
    if let Some(max) = setup.max_cost_usd {
        let refuse =
            |msg: String| Err(Error::new(ErrorCode::CostLimit, msg).with_param("maxCostUsd"));
        match cost {
            Some(c) if c <= max => {}
            Some(c) => return refuse(format!("the evaluation is estimated at ${c:.4} ({tokens} tokens), above maxCostUsd ${max}; nothing was sent")),
            None => return refuse(format!("the cost of {}, {} or the judge cannot be estimated (unknown price), so maxCostUsd cannot be honoured; nothing was sent", t.candidate, t.baseline)),
        }
    }
    Ok((tokens, cost))
}

/// The examples with both answers.
fn answered<'a>(examples: &'a [Example], asked: &Asked) -> Vec<Answered<'a>> {
    examples
        .iter()
        .zip(asked.answers.chunks(2))
        .filter_map(|(e, pair)| {
            let a = |g: &Option<Got>| g.as_ref().map(|g| Answer::from_message(&g.answer.message));
            Some(Answered {
                example: e,
                answers: [a(&pair[0])?, a(&pair[1])?],
            })
        })
        .collect()
}

/// Why the evaluation is partial (`None`: it is not), or the error to fail with when it
/// answered nothing at all.
fn partial(stop: Option<&Stop>, answered: usize, n: usize) -> Result<Option<String>> {
    match stop {
        None => Ok(None),
        Some(_) if answered > 0 => Ok(Some(format!(
            "{answered} of {n} examples answered; {}",
            stop.map(Stop::describe).unwrap_or_default()
        ))),
        Some(Stop::Failed(e)) => Err(e.clone()),
        Some(s @ Stop::Budget { .. }) => Err(Error::new(
            ErrorCode::CostLimit,
            format!("no example could be answered: {}", s.describe()),
        )
        .with_param("maxCostUsd")),
    }
}

/// Runs the evaluation of resolved examples and settings, with an answer store (or none).
pub async fn execute(
    client: &Client,
    store: Option<&AnswerStore>,
    t: &Target,
    examples: &[Example],
    setup: &Setup,
    ctx: &RunContext,
) -> Result<EvaluationReport> {
    let started = Instant::now();
    let budget = Budget::new(setup.max_cost_usd);
    let progress = Progress::new(ctx);
    let asker = Asker {
        client,
        store,
        budget: &budget,
        ctx,
        concurrency: setup.concurrency,
        progress: &progress,
    };
    let reqs = answer_requests(setup, t, examples);
    let (_, estimated) = estimate(&asker, &reqs, examples, setup, t)?;
    let asked = asker.ask(&reqs).await?;
    let answered = answered(examples, &asked);
    let mut stop = asked.stop.clone();
    let mut judge_got = Vec::new();
    if setup.judge() && !answered.is_empty() {
        let j = asker.ask(&grade::judge_requests(setup, &answered)).await?;
        (stop, judge_got) = (stop.or(j.stop), j.answers);
    }
    let partial = partial(stop.as_ref(), answered.len(), examples.len())?;
    let judged = grade::judge_scores(&judge_got);
    let graded = grade::grade(setup, &answered, &judged).await;
    report::write(
        &t.output_path,
        report::answer_lines(setup, &answered, &graded),
    )
    .await?;
    let scores = report::grader_scores(setup, &graded);
    let (better, reason) = report::verdict_of(&scores[setup.primary], partial.as_deref());
    let paid = report::paid(
        [&t.candidate, &t.baseline, &setup.judge_model],
        &asked.answers,
        &judge_got,
    );
    let report = EvaluationReport {
        candidate: t.candidate.clone(),
        baseline: t.baseline.clone(),
        model_key: t.model_key.clone(),
        data: t.data_shown.clone(),
        examples: examples.len() as u64,
        primary_grader: setup.graders[setup.primary].name().to_string(),
        better,
        reason,
        verdict_method: verdict::method(),
        partial: partial.is_some(),
        answered: answered.len() as u64,
        reused_answers: paid.reused,
        new_answers: paid.new,
        grader_errors: graded.listed,
        usage: paid.usage,
        estimated_cost_usd: estimated,
        cost_usd: paid.cost_usd,
        price_date: INFERENCE_PRICE_DATE.to_string(),
        output_path: t.output_path.display().to_string(),
        cache_dir: store.map(|s| s.dir().display().to_string()),
        junit_path: setup.junit_path.as_ref().map(|p| p.display().to_string()),
        seed: setup.seed,
        duration_ms: started.elapsed().as_millis() as u64,
        evaluated_at: iso(None),
        graders: scores,
    };
    report::write_junit(setup, &report).await?;
    finished(ctx, &report, setup.primary);
    Ok(report)
}

fn finished(ctx: &RunContext, report: &EvaluationReport, primary: usize) {
    ctx.emit(ProgressEvent::EvaluationFinished {
        better: report.better,
        primary_grader: report.primary_grader.clone(),
        difference: report.graders[primary].difference,
    });
}

/// The pipeline's `evaluate`, after the job succeeded: the new model against the model the
/// key resolves to now (when it is registered), else the base model, on `evaluate.data`, else
/// the run's validation file (given, or held out by `validationSplit`). An abort stops the
/// run (the job stays journaled); any other failure is reported in the result and the model
/// is registered anyway.
pub async fn after_job(st: &Run<'_>, rec: &RunRecord, job: &Job) -> Result<Evaluated> {
    let o = &st.r.opts;
    let Some(settings) = o.evaluate.as_ref().and_then(EvaluateSetting::settings) else {
        return Ok(Evaluated::default());
    };
    let Some(candidate) = job.fine_tuned_model.clone().filter(|m| !m.is_empty()) else {
        return Ok(Evaluated::default());
    };
    let current = {
        let (r, k) = (st.registry.clone(), o.model_key.clone());
        blocking(move || r.get(&k)).await?
    };
    let baseline = match &settings.baseline {
        Some(b) => registry::resolve_model(b, Some(st.registry.path().display().to_string()))?,
        None => current
            .map(|e| e.model.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| o.base_model.clone()),
    };
    let data = settings.data.clone().or_else(|| {
        rec.validation_file_id
            .clone()
            .or_else(|| job.validation_file.clone())
    });
    let Some(data) = data else {
        return Ok(Evaluated {
            report: None,
            error: Some(
                "no evaluation data: pass validation, validationSplit or evaluate.data".into(),
            ),
        });
    };
    let client = match o.connection.max_retries {
        Some(_) => st.client.clone(),
        None => st.client.patient(EVAL_MAX_RETRIES),
    };
    let key = Some(o.model_key.clone());
    match run(
        &client,
        st.registry,
        candidate,
        baseline,
        key,
        &data,
        settings,
        st.ctx,
    )
    .await
    {
        Ok(r) => Ok(Evaluated {
            report: Some(r),
            error: None,
        }),
        Err(e) if e.is_abort() => Err(e),
        Err(e) => Ok(Evaluated {
            report: None,
            error: Some(format!("{}: {}", e.code, e.message)),
        }),
    }
}
