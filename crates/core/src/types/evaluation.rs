//! Data of an evaluation that is not an option value: graders written by the caller (in the
//! binding, JavaScript functions) and the per-example errors they report.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a caller's grader returns for one answer: a score in [0, 1], or why there is none (it
/// threw, or returned something that is not such a number).
pub type GradeResult = std::result::Result<f64, String>;

/// A caller's grader: `(answer, example)` as JSON to a score. `answer` is `{ content,
/// toolCalls: [{ name, arguments }] }`; `example` is `{ line, prompt, reference, tools }`.
pub type GradeFn =
    Arc<dyn Fn(Value, Value) -> Pin<Box<dyn Future<Output = GradeResult> + Send>> + Send + Sync>;

/// A grader given by the caller, next to the built-in ones, by name.
#[derive(Clone)]
pub struct CustomGrader {
    pub name: String,
    pub grade: GradeFn,
}

impl std::fmt::Debug for CustomGrader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomGrader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One answer a grader could not score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GraderError {
    pub grader: String,
    /// The example's line in the data.
    pub line: u64,
    /// `candidate` or `baseline`.
    pub model: String,
    pub message: String,
}
