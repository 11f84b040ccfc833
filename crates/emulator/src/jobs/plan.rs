//! A job's planned timeline, laid out at creation: its events, its metrics curves, its
//! checkpoints and its outcome (with the configured faults applied).

use super::{Checkpoint, JobRecord, Outcome};
use crate::faults::FaultOptions;
use crate::state::AppState;
use crate::training::{Analysis, JobError};
use crate::util::random_id;
use serde_json::{json, Value};

/// Deterministic noise in [-0.5, 0.5) from a seed and a step (splitmix64).
fn noise(seed: i64, step: u64) -> f64 {
    let mut z = (seed as u64) ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % 10_000) as f64 / 10_000.0 - 0.5
}

/// Plausible falling training loss and token accuracy at `step` of `total`.
pub(super) fn train_metrics(seed: i64, step: u64, total: u64) -> (f64, f64) {
    let x = step as f64 / total.max(1) as f64;
    let loss = (0.15 + 1.85 * (-4.0 * x).exp() + 0.08 * noise(seed, step)).max(0.01);
    let acc = (1.0 - loss / 2.4).clamp(0.0, 1.0);
    (round4(loss), round4(acc))
}

/// Validation loss and accuracy at `step`.
pub(super) fn valid_metrics(seed: i64, step: u64, total: u64) -> (f64, f64) {
    let (l, _) = train_metrics(seed ^ 0x5555, step, total);
    let loss = l * 1.08 + 0.03;
    (round4(loss), round4((1.0 - loss / 2.4).clamp(0.0, 1.0)))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Lays out the job's timeline: events, metrics, checkpoints and the outcome. A file that
/// failed its checks fails the job when validation ends.
pub(super) fn plan(
    job: &mut JobRecord,
    state: &AppState,
    train: &Analysis,
    valid: Option<&Analysis>,
) {
    job.push_validation_events();
    let error = train
        .error
        .clone()
        .or_else(|| valid.and_then(|v| v.error.clone()));
    if let Some(e) = error {
        let at = job.validating_until;
        job.outcome_at = at;
        job.end_at(at, Outcome::Failed(e));
        return;
    }
    job.push_message(
        job.validating_until,
        "Files validated, moving job to queued state",
    );
    job.push_message(job.queued_until, "Fine-tuning job started");
    job.push_step_metrics();
    job.push_checkpoints();
    let end = job.natural_end;
    let created = format!("New fine-tuned model created: {}", job.fine_tuned_model);
    job.push_message(end, created);
    job.push_message(end, "The job has successfully completed");
    job.apply_faults(&state.0.faults);
}

impl JobRecord {
    /// An `info` message event at `at`.
    fn push_message(&mut self, at: i64, message: impl Into<String>) {
        self.push_event(at, "info", message.into(), "message", json!({}));
    }

    /// "Created fine-tuning job" and "Validating training file", at creation.
    fn push_validation_events(&mut self) {
        let t0 = self.created_ms;
        self.push_message(t0, format!("Created fine-tuning job: {}", self.id));
        let mut validating = format!("Validating training file: {}", self.training_file);
        if let Some(v) = &self.validation_file {
            validating.push_str(&format!(" and validation file: {v}"));
        }
        self.push_message(t0, validating);
    }

    /// When training reaches `step`: evenly between the start of the run and just before its
    /// natural end.
    fn step_time(&self, step: u64) -> i64 {
        let run_start = self.queued_until;
        let run_end = self.natural_end - (self.natural_end - self.queued_until) / 20;
        run_start + ((run_end - run_start) as f64 * step as f64 / self.total_steps as f64) as i64
    }

    /// Up to 20 `metrics` events spread over the run.
    fn push_step_metrics(&mut self) {
        let total = self.total_steps;
        let shown = total.min(20);
        for i in 1..=shown {
            let step = (i * total).div_ceil(shown);
            let (loss, acc) = train_metrics(self.seed, step, total);
            let mut data = json!({
                "step": step,
                "train_loss": loss,
                "total_steps": total,
                "train_mean_token_accuracy": acc,
            });
            let mut message = format!("Step {step}/{total}: training loss={loss:.4}");
            if self.has_validation {
                let (vl, va) = valid_metrics(self.seed, step, total);
                data["valid_loss"] = json!(vl);
                data["valid_mean_token_accuracy"] = json!(va);
                message.push_str(&format!(", validation loss={vl:.4}"));
            }
            self.push_event(self.step_time(step), "info", message, "metrics", data);
        }
    }

    /// The number of epochs the plan uses: the user's, else the resolved one (at least 1).
    fn planned_epochs(&self) -> u64 {
        let resolved = self
            .resolved_hp
            .get("n_epochs")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        self.user_hp
            .get("n_epochs")
            .and_then(Value::as_u64)
            .unwrap_or(resolved)
    }

    /// The metrics of the checkpoint at `step`.
    fn checkpoint_metrics(&self, step: u64) -> Value {
        let total = self.total_steps;
        let (loss, acc) = train_metrics(self.seed, step, total);
        let mut metrics = json!({
            "step": step,
            "train_loss": loss,
            "train_mean_token_accuracy": acc,
        });
        if self.has_validation {
            let (vl, va) = valid_metrics(self.seed, step, total);
            for (k, v) in [
                ("valid_loss", vl),
                ("valid_mean_token_accuracy", va),
                ("full_valid_loss", vl),
                ("full_valid_mean_token_accuracy", va),
            ] {
                metrics[k] = json!(v);
            }
        }
        metrics
    }

    /// A checkpoint at the end of each of the last three epochs (the last one at the run's
    /// natural end), each announced by an event.
    fn push_checkpoints(&mut self) {
        let total = self.total_steps;
        let epochs = self.planned_epochs();
        for e in epochs.saturating_sub(2).max(1)..=epochs {
            let step = (e * total).div_ceil(epochs);
            let at = if e == epochs {
                self.natural_end
            } else {
                self.step_time(step)
            };
            let name = format!("{}:ckpt-step-{step}", self.fine_tuned_model);
            let announce = format!("Checkpoint created at step {step} with Snapshot ID: {name}");
            self.push_message(at, announce);
            self.checkpoints.push(Checkpoint {
                // facts §3: Azure's checkpoints are `ftchkpt-<32 hex>`.
                id: if self.azure {
                    crate::azure::checkpoint_id()
                } else {
                    random_id("ftckpt_", 24)
                },
                at_ms: at,
                step,
                metrics: self.checkpoint_metrics(step),
                name,
            });
        }
    }

    /// The configured faults: jobs that fail halfway, or are cancelled after a while.
    fn apply_faults(&mut self, faults: &FaultOptions) {
        if faults.fail_jobs {
            let at = self.queued_until + (self.natural_end - self.queued_until) / 2;
            self.end_at(
                at,
                Outcome::Failed(JobError {
                    code: "server_error".into(),
                    message: "The job failed due to an internal error.".into(),
                    param: None,
                }),
            );
        }
        if let Some(ms) = faults.cancel_jobs_after_ms {
            let at = self.created_ms + ms as i64;
            if at < self.outcome_at {
                self.end_at(at, Outcome::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_falls() {
        let (first, _) = train_metrics(1, 1, 100);
        let (last, _) = train_metrics(1, 100, 100);
        assert!(first > last + 1.0, "{first} {last}");
    }
}
