//! Asking the models: each request is answered from the answer store when it holds it, else
//! sent (`concurrency` at a time, through the client's retry policy, within the budget) and
//! its answer kept in the store at once. A request that still fails after its retries, or
//! that the budget cannot afford, stops the sending: requests in flight finish, the rest are
//! not sent, and the caller reports what it has. Only an abort ends the call with an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use futures::StreamExt;
use serde_json::Value;

use crate::calc::prices;
use crate::infra::answers::{AnswerStore, StoredAnswer};
use crate::infra::client::Client;
use crate::types::error::{Error, Result};
use crate::types::progress::{ProgressEvent, RunContext};

use super::budget::Budget;

/// One chat request.
#[derive(Debug, Clone)]
pub struct Request {
    pub model: String,
    /// The body as sent (with `max_completion_tokens`).
    pub body: Value,
    /// Its answer cap, in tokens.
    pub cap: u32,
    /// What it is for, in words (for an error): `evaluating <model> on example at line N`.
    pub what: String,
}

impl Request {
    /// Its cost if the prompt is as counted and the answer as long as the cap.
    pub fn worst_cost(&self) -> Option<f64> {
        let messages = self.body["messages"].as_array().map_or(&[][..], |m| m);
        let prompt = prices::prompt_tokens(&self.model, messages, self.body.get("tools"));
        prices::cost(&self.model, prompt, self.cap as u64)
    }

    /// Its cost if the answer is as long as `answer` (the estimate).
    pub fn expected(&self, answer: &Value) -> (u64, Option<f64>) {
        let messages = self.body["messages"].as_array().map_or(&[][..], |m| m);
        let prompt = prices::prompt_tokens(&self.model, messages, self.body.get("tools"));
        let completion = prices::answer_tokens(&self.model, answer).min(self.cap as u64);
        (
            prompt + completion,
            prices::cost(&self.model, prompt, completion),
        )
    }
}

/// An answer, and whether this call paid for it.
#[derive(Debug, Clone)]
pub struct Got {
    pub answer: StoredAnswer,
    pub new: bool,
}

/// Why sending stopped before every request was answered.
#[derive(Debug, Clone)]
pub enum Stop {
    /// A request failed after its retries.
    Failed(Error),
    /// The next request could have taken the total past `maxCostUsd`.
    Budget { max: f64, spent: f64 },
}

impl Stop {
    /// In words, for the report.
    pub fn describe(&self) -> String {
        match self {
            Stop::Failed(e) => format!("a request failed: {}: {}", e.code, e.message),
            Stop::Budget { max, spent } => format!(
                "stopped at ${spent:.4}: the next request could have taken the total past maxCostUsd ${max}"
            ),
        }
    }
}

/// The answers of a list of requests (`None`: not answered), and why sending stopped.
#[derive(Debug)]
pub struct Asked {
    pub answers: Vec<Option<Got>>,
    pub stop: Option<Stop>,
}

/// `evaluationProgress` events: requests answered so far of those to send.
pub struct Progress<'a> {
    ctx: &'a RunContext,
    done: AtomicU64,
    total: AtomicU64,
}

impl<'a> Progress<'a> {
    pub fn new(ctx: &'a RunContext) -> Self {
        Progress {
            ctx,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// More requests to send.
    pub fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    fn tick(&self) {
        let total = self.total.load(Ordering::Relaxed);
        let d = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let step = (total / 100).max(1);
        if d.is_multiple_of(step) || d == total {
            self.ctx
                .emit(ProgressEvent::EvaluationProgress { done: d, total });
        }
    }
}

/// What asking needs.
pub struct Asker<'a> {
    pub client: &'a Client,
    pub store: Option<&'a AnswerStore>,
    pub budget: &'a Budget,
    pub ctx: &'a RunContext,
    pub concurrency: usize,
    pub progress: &'a Progress<'a>,
}

impl Asker<'_> {
    /// The answers the store holds for `reqs` (`None` for the others).
    pub fn stored(&self, reqs: &[Request]) -> Vec<Option<Got>> {
        reqs.iter()
            .map(|r| {
                let store = self.store?;
                store.get(&store.key(&r.body)).map(|a| Got {
                    answer: a.clone(),
                    new: false,
                })
            })
            .collect()
    }

    /// Answers every request: from the store, else sent.
    pub async fn ask(&self, reqs: &[Request]) -> Result<Asked> {
        let mut answers = self.stored(reqs);
        let missing: Vec<usize> = (0..reqs.len()).filter(|i| answers[*i].is_none()).collect();
        self.progress.add(missing.len() as u64);
        let stop = Mutex::new(None);
        {
            let mut stream = futures::stream::iter(missing)
                .map(|i| {
                    let stop = &stop;
                    async move { (i, self.send(&reqs[i], stop).await) }
                })
                .buffer_unordered(self.concurrency);
            while let Some((i, got)) = stream.next().await {
                if let Some(a) = got? {
                    answers[i] = Some(Got {
                        answer: a,
                        new: true,
                    });
                }
            }
        }
        let stop = stop.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok(Asked { answers, stop })
    }

    /// Sends one request unless sending has stopped or the budget cannot afford it. `Err`
    /// only for an abort.
    async fn send(&self, r: &Request, stop: &Mutex<Option<Stop>>) -> Result<Option<StoredAnswer>> {
        let halt = |s: Stop| {
            let mut g = stop.lock().unwrap_or_else(|p| p.into_inner());
            g.get_or_insert(s);
        };
        if stop.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            return Ok(None);
        }
        let worst = if self.budget.max().is_some() {
            r.worst_cost().unwrap_or(f64::INFINITY)
        } else {
            0.0
        };
        if !self.budget.reserve(worst) {
            halt(Stop::Budget {
                max: self.budget.max().unwrap_or(0.0),
                spent: self.budget.spent(),
            });
            return Ok(None);
        }
        match self.client.chat_completion(&r.body, &self.ctx.cancel).await {
            Ok(v) => {
                let a = StoredAnswer::of_completion(&v);
                let cost = prices::cost(&r.model, a.prompt_tokens, a.completion_tokens);
                self.budget.settle(worst, cost.unwrap_or(0.0));
                if let Some(store) = self.store {
                    store.put(&r.model, &store.key(&r.body), &a);
                }
                self.progress.tick();
                Ok(Some(a))
            }
            Err(e) if e.is_abort() => Err(e),
            Err(mut e) => {
                self.budget.release(worst);
                e.message = format!("{} ({})", e.message, r.what);
                halt(Stop::Failed(e));
                Ok(None)
            }
        }
    }
}
