//! The Fine-tuning API: create (idempotent), list by metadata, retrieve, act on a job, and read
//! its events.

use crate::calc::ids::path_segment;
use reqwest::Method;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::calc::azure_api::key_marker;
use crate::types::api::{CreateJobRequest, FileObject, Job, JobEvent, List};
use crate::types::error::Result;

/// How many pages of 100 jobs a look-up reads at most (Azure keeps 100 training jobs per
/// resource, facts §7).
const MAX_JOB_PAGES: usize = 20;

/// A job of an idempotency key, and whether the run looking it up created it.
#[derive(Debug, Clone)]
pub struct KeyedJob {
    pub job: Job,
    pub own: bool,
}

impl Client {
    /// `POST /fine_tuning/jobs` with the body this API declares (see
    /// `calc::azure_api::ApiCaps::job_body`). After an ambiguous failure the job is looked up
    /// by its idempotency key ([`Self::find_job`]) and sent again only if that look-up answers
    /// that there is none: a lost answer never creates a second job.
    pub async fn create_job(
        &self,
        body: &CreateJobRequest,
        key: Option<&str>,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Job> {
        let wire = match self.caps() {
            Some(c) => c.job_body(body),
            None => serde_json::to_value(body).unwrap_or_default(),
        };
        let recover = || async move {
            match key {
                Some(k) => self.find_job(k, run_id, cancel).await,
                None => Ok(None),
            }
        };
        self.send_with(
            || Ok(self.request(Method::POST, "/fine_tuning/jobs").json(&wire)),
            cancel,
            Some(recover),
        )
        .await
    }

    /// `GET /fine_tuning/jobs`, every page (`after`, `limit`: declared by OpenAI, V1 and
    /// A1021), newest first.
    pub async fn list_jobs(&self, cancel: &CancellationToken) -> Result<Vec<Job>> {
        let query = [("limit", "100")];
        self.all_pages(
            "/fine_tuning/jobs",
            &query,
            MAX_JOB_PAGES,
            |j: &Job| &j.id,
            cancel,
        )
        .await
    }

    /// Every job whose `metadata[name]` is `value`, newest first: OpenAI filters the list
    /// (at most 100); Azure's v1 API has no such filter (facts §2), so its list is paged and
    /// matched here; a dated Azure version keeps no metadata, so none matches.
    pub async fn jobs_by_metadata(
        &self,
        name: &str,
        value: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<Job>> {
        let jobs = match self.caps() {
            None => {
                let filter = format!("metadata[{name}]");
                let query = [(filter.as_str(), value), ("limit", "100")];
                let list: List<Job> = self.page("/fine_tuning/jobs", &query, None, cancel).await?;
                list.data
            }
            Some(c) if c.metadata => self.list_jobs(cancel).await?,
            Some(_) => Vec::new(),
        };
        Ok(jobs
            .into_iter()
            .filter(|j| j.metadata_value(name) == Some(value))
            .collect())
    }

    /// Every job of idempotency key `key`, newest first, each marked whether run `run_id`
    /// created it. Where jobs keep `metadata` the key rides there (`idempotency_key`, the run
    /// id in `run_id`); where they keep none (Azure's dated versions) the key is in the name
    /// of the training file the run uploaded (see `calc::azure_api::key_marker`): the files
    /// with it are listed by name and the jobs by `training_file`.
    pub async fn jobs_of_key(
        &self,
        key: &str,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<KeyedJob>> {
        if self.caps().is_some_and(|c| !c.metadata) {
            let marker = key_marker(key);
            let own_prefix = format!("ft-{run_id}-");
            let files: Vec<FileObject> = self
                .list_files(cancel)
                .await?
                .into_iter()
                .filter(|f| f.filename.as_deref().is_some_and(|n| n.contains(&marker)))
                .collect();
            if files.is_empty() {
                return Ok(Vec::new());
            }
            let own_of = |id: &str| {
                files.iter().find(|f| f.id == id).map(|f| {
                    !run_id.is_empty()
                        && f.filename
                            .as_deref()
                            .is_some_and(|n| n.starts_with(&own_prefix))
                })
            };
            return Ok(self
                .list_jobs(cancel)
                .await?
                .into_iter()
                .filter_map(|job| {
                    let own = own_of(job.training_file.as_deref()?)?;
                    Some(KeyedJob { job, own })
                })
                .collect());
        }
        Ok(self
            .jobs_by_metadata(IDEMPOTENCY_KEY, key, cancel)
            .await?
            .into_iter()
            .map(|job| KeyedJob {
                own: !run_id.is_empty() && job.metadata_value("run_id") == Some(run_id),
                job,
            })
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
        let jobs = self.jobs_of_key(key, run_id, cancel).await?;
        Ok(pick_job(jobs, true))
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
        let path = format!("/fine_tuning/jobs/{}/events", path_segment(id));
        for _ in 0..50 {
            let page: List<JobEvent> = self
                .page(&path, &[("limit", "100")], cursor.as_deref(), cancel)
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

/// See [`Client::find_job`]. `jobs` in the API's order (newest first). With `prefer_own`, the
/// run's own job wins whatever its status; else, among the jobs that did not fail and were
/// not cancelled, the first created (the earliest `created_at`, then the last listed) wins,
/// so that every process racing on one key agrees on the same job.
pub fn pick_job(jobs: Vec<KeyedJob>, prefer_own: bool) -> Option<Job> {
    if prefer_own {
        if let Some(own) = jobs.iter().find(|j| j.own) {
            return Some(own.job.clone());
        }
    }
    jobs.into_iter()
        .enumerate()
        .filter(|(_, j)| !matches!(j.job.status.as_str(), "failed" | "cancelled"))
        .min_by_key(|(i, j)| (j.job.created_at.unwrap_or(i64::MAX), usize::MAX - i))
        .map(|(_, j)| j.job)
}
