//! The Fine-tuning API: create (idempotent), list by metadata, retrieve, act on a job, and read
//! its events.

use crate::calc::ids::path_segment;
use reqwest::Method;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::types::api::{CreateJobRequest, Job, JobEvent, List};
use crate::types::error::Result;

impl Client {
    /// `POST /fine_tuning/jobs`. After an ambiguous failure the job is looked up by its
    /// metadata ([`Self::find_job`]) and sent again only if that look-up answers that there is
    /// none: a lost answer never creates a second job.
    pub async fn create_job(
        &self,
        body: &CreateJobRequest,
        cancel: &CancellationToken,
    ) -> Result<Job> {
        let run_id = body.metadata.get("run_id").cloned().unwrap_or_default();
        let key = body.metadata.get(IDEMPOTENCY_KEY).cloned();
        let recover = || {
            let (run_id, key) = (run_id.clone(), key.clone());
            async move {
                match key {
                    Some(k) => self.find_job(&k, &run_id, cancel).await,
                    None => Ok(None),
                }
            }
        };
        self.send_with(
            || Ok(self.request(Method::POST, "/fine_tuning/jobs").json(body)),
            cancel,
            Some(recover),
        )
        .await
    }

    /// Every job whose `metadata[name]` is `value`, newest first (at most 100).
    pub async fn jobs_by_metadata(
        &self,
        name: &str,
        value: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<Job>> {
        let filter = format!("metadata[{name}]");
        let list: List<Job> = self
            .send(
                || {
                    Ok(self
                        .request(Method::GET, "/fine_tuning/jobs")
                        .query(&[(filter.as_str(), value), ("limit", "100")]))
                },
                cancel,
            )
            .await?;
        Ok(list
            .data
            .into_iter()
            .filter(|j| j.metadata_value(name) == Some(value))
            .collect())
    }

    /// The job of idempotency key `key` to use instead of creating one: the one this run
    /// created (`run_id`), whatever its status; else the first created of the others that did
    /// not fail and were not cancelled (another process or machine training the same thing).
    /// `Ok(None)` only when the API answered that there is none.
    pub async fn find_job(
        &self,
        key: &str,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Job>> {
        let jobs = self.jobs_by_metadata(IDEMPOTENCY_KEY, key, cancel).await?;
        Ok(pick_job(jobs, run_id))
    }

    /// `GET /fine_tuning/jobs/{id}`.
    pub async fn retrieve_job(&self, id: &str, cancel: &CancellationToken) -> Result<Job> {
        self.send(
            || {
                Ok(self.request(
                    Method::GET,
                    &format!("/fine_tuning/jobs/{}", path_segment(id)),
                ))
            },
            cancel,
        )
        .await
        .map_err(|e| e.with_job(id))
    }

    /// `POST /fine_tuning/jobs/{id}/{action}` (`cancel`, `pause`, `resume`): the job as it is
    /// after.
    pub(crate) async fn job_action(
        &self,
        id: &str,
        action: &str,
        cancel: &CancellationToken,
    ) -> Result<Job> {
        self.send(
            || {
                Ok(self.request(
                    Method::POST,
                    &format!("/fine_tuning/jobs/{}/{action}", path_segment(id)),
                ))
            },
            cancel,
        )
        .await
        .map_err(|e| e.with_job(id))
    }

    /// `POST /fine_tuning/jobs/{id}/cancel`.
    pub async fn cancel_job(&self, id: &str, cancel: &CancellationToken) -> Result<Job> {
        self.job_action(id, "cancel", cancel).await
    }

    /// The events after `after` (an event id), oldest first. The API lists newest first and
    /// pages by `after`, so this reads pages until it meets `after` or runs out.
    pub async fn events_since(
        &self,
        id: &str,
        after: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Vec<JobEvent>> {
        let mut out: Vec<JobEvent> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..50 {
            let page: List<JobEvent> = self
                .send(
                    || {
                        let mut rb = self
                            .request(
                                Method::GET,
                                &format!("/fine_tuning/jobs/{}/events", path_segment(id)),
                            )
                            .query(&[("limit", "100")]);
                        if let Some(c) = &cursor {
                            rb = rb.query(&[("after", c.as_str())]);
                        }
                        Ok(rb)
                    },
                    cancel,
                )
                .await
                .map_err(|e| e.with_job(id))?;
            let n = page.data.len();
            let mut met = false;
            for ev in page.data {
                if Some(ev.id.as_str()) == after {
                    met = true;
                    break;
                }
                out.push(ev);
            }
            if met || !page.has_more || n == 0 {
                break;
            }
            cursor = out.last().map(|e| e.id.clone());
        }
        out.reverse();
        Ok(out)
    }
}

/// The metadata key carrying a run's idempotency key (see `Resolved::idempotency_key` in `infra::resolve`).
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";

/// See [`Client::find_job`]. `jobs` in the API's order (newest first). Among other runs'
/// jobs, the first created (the last listed) wins, so that every process racing on one key
/// agrees on the same job.
pub fn pick_job(jobs: Vec<Job>, run_id: &str) -> Option<Job> {
    if let Some(own) = jobs
        .iter()
        .find(|j| !run_id.is_empty() && j.metadata_value("run_id") == Some(run_id))
    {
        return Some(own.clone());
    }
    jobs.into_iter()
        .rfind(|j| !matches!(j.status.as_str(), "failed" | "cancelled"))
}
