//! Grading: every answered example's two answers scored by each grader. Built-in graders are
//! computed here; `judge` reads the scores its requests got (see [`judge_requests`]); a
//! caller's grader is called (concurrently, `concurrency` at a time) and what it returns is
//! checked: a score from 0 to 1, else an error reported for that answer, whose example is
//! then left out of that grader's pairs.

use futures::StreamExt;
use serde_json::{json, Value};

use crate::calc::graders::{self, Answer, Grader};
use crate::types::evaluation::{CustomGrader, GraderError};

use super::ask::{Got, Request};
use super::data::Example;
use super::settings::{GraderRef, Setup, JUDGE_ANSWER_TOKENS};

/// At most this many grader errors are listed in the report (all are counted).
pub const MAX_LISTED_ERRORS: usize = 20;

/// One answered example: the example and both answers (candidate, baseline).
pub struct Answered<'a> {
    pub example: &'a Example,
    pub answers: [Answer; 2],
}

/// The scores: `scores[g][i]` is `Some([candidate, baseline])` where grader `g` scored
/// answered example `i`.
#[derive(Debug, Default)]
pub struct Graded {
    pub scores: Vec<Vec<Option<[f64; 2]>>>,
    pub errors: Vec<u64>,
    pub listed: Vec<GraderError>,
}

/// The requests of the `judge` grader: two per answered example.
pub fn judge_requests(setup: &Setup, answered: &[Answered]) -> Vec<Request> {
    let mut out = Vec::with_capacity(answered.len() * 2);
    for a in answered {
        let e = a.example;
        let question = e
            .prompt
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(|m| Answer::from_message(m).content)
            .unwrap_or_default();
        for answer in &a.answers {
            out.push(Request {
                model: setup.judge_model.clone(),
                body: json!({
                    "model": setup.judge_model,
                    "messages": graders::judge_messages(&setup.rubric, &question, &e.reference, answer),
                    "temperature": 0,
                    "seed": setup.seed,
                    "max_completion_tokens": JUDGE_ANSWER_TOKENS,
                }),
                cap: JUDGE_ANSWER_TOKENS,
                what: format!("judging an answer to the example at line {}", e.line),
            });
        }
    }
    out
}

/// The judge's scores, two per answered example (a reply without a number scores 0).
pub fn judge_scores(replies: &[Option<Got>]) -> Vec<Option<[f64; 2]>> {
    let score = |g: &Option<Got>| {
        g.as_ref().map(|g| {
            graders::parse_judge(&Answer::from_message(&g.answer.message).content).unwrap_or(0.0)
        })
    };
    replies
        .chunks(2)
        .map(|c| Some([score(&c[0])?, score(&c[1])?]))
        .collect()
}

/// A caller's grader on one answer: the score, or why there is none.
async fn call(c: &CustomGrader, answer: &Answer, example: &Example) -> Result<f64, String> {
    let x = (c.grade)(answer.to_json(), example.to_json()).await?;
    if x.is_finite() && (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("returned {x}, not a score from 0 to 1"))
    }
}

/// Scores of a caller's grader, and its errors.
async fn custom_scores(
    c: &CustomGrader,
    answered: &[Answered<'_>],
    concurrency: usize,
    errors: &mut Vec<GraderError>,
) -> Vec<Option<[f64; 2]>> {
    let calls = (0..answered.len()).flat_map(|i| (0..2).map(move |w| (i, w)));
    let mut got = vec![[None, None]; answered.len()];
    let mut stream = futures::stream::iter(calls)
        .map(|(i, w)| async move {
            let a = &answered[i];
            (i, w, call(c, &a.answers[w], a.example).await)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, w, r)) = stream.next().await {
        match r {
            Ok(x) => got[i][w] = Some(x),
            Err(message) => errors.push(GraderError {
                grader: c.name.clone(),
                line: answered[i].example.line as u64,
                model: ["candidate", "baseline"][w].into(),
                message,
            }),
        }
    }
    got.into_iter().map(|[c, b]| Some([c?, b?])).collect()
}

/// Every grader's scores.
pub async fn grade(
    setup: &Setup,
    answered: &[Answered<'_>],
    judged: &[Option<[f64; 2]>],
) -> Graded {
    let mut out = Graded::default();
    for g in &setup.graders {
        let mut errors = Vec::new();
        let scores = match g {
            GraderRef::Builtin(Grader::Judge) => judged.to_vec(),
            GraderRef::Builtin(b) => answered
                .iter()
                .map(|a| {
                    let r = &a.example.reference;
                    b.applies(r)
                        .then(|| [b.score(r, &a.answers[0]), b.score(r, &a.answers[1])])
                })
                .collect(),
            GraderRef::Custom(c) => {
                custom_scores(c, answered, setup.concurrency, &mut errors).await
            }
        };
        out.scores.push(scores);
        out.errors.push(errors.len() as u64);
        errors.sort_by_key(|e| e.line);
        let room = MAX_LISTED_ERRORS.saturating_sub(out.listed.len());
        out.listed.extend(errors.into_iter().take(room));
    }
    out
}
