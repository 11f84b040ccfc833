//! Stage 3: each checked file goes up (the Files API, or the Uploads API in parts for large
//! files where the API has it, journaled part by part) unless the journal has one the API
//! still knows, and the stage waits until the API has processed it.
//!
//! Azure OpenAI: files go through `/files` (its v1 API has no `/uploads`, facts §2; only the
//! dated 2024-10-21 declares it), at most 512 MB each (facts §7), and are `pending`, then
//! `running`, then `processed` (or `error`), waited through for at most
//! `fileProcessingTimeoutMs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::calc::azure_api::MAX_FILE_BYTES;
use crate::infra::client::{Client, SentFn};
use crate::infra::journal::{RunRecord, UploadState};
use crate::infra::resolve::Resolved;
use crate::infra::source::{Loaded, LocalData};
use crate::types::api::FileObject;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::progress::{ProgressEvent, RunContext};

use super::Run;

/// How many parts go up at once.
const PART_CONCURRENCY: usize = 3;

/// Refuses, before anything is uploaded, a file larger than Azure OpenAI takes (512 MB, facts
/// §7); OpenAI's own limits are checked by OpenAI.
pub fn check_size(r: &Resolved, param: &str, bytes: u64) -> Result<()> {
    let Some(caps) = r.connection.caps() else {
        return Ok(());
    };
    if bytes <= MAX_FILE_BYTES {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::InvalidOption,
        format!(
            "{param} is {bytes} bytes; {} takes training files of at most 512 MB ({MAX_FILE_BYTES} bytes){}: split the data or sample it down",
            caps.name(),
            if caps.uploads { "" } else { ", through /files (it has no /uploads)" }
        ),
    )
    .with_param(param))
}

/// Whether a file of `bytes` goes up in parts (the Uploads API): above
/// `uploadThresholdBytes`, where the API has `/uploads`.
fn in_parts(r: &Resolved, bytes: u64) -> bool {
    bytes > r.upload_threshold_bytes && r.connection.caps().is_none_or(|c| c.uploads)
}

/// Uploads the training file, then the validation file, journaling each file id.
pub async fn upload(run: &Run<'_>, rec: &mut RunRecord, data: &Loaded) -> Result<()> {
    ensure_uploaded(run, rec, "source", &data.training).await?;
    if let Some(v) = &data.validation {
        ensure_uploaded(run, rec, "validation", v).await?;
    }
    Ok(())
}

fn file_id(rec: &RunRecord, param: &str) -> Option<String> {
    if param == "validation" {
        rec.validation_file_id.clone()
    } else {
        rec.training_file_id.clone()
    }
}

fn set_file_id(rec: &mut RunRecord, param: &str, id: Option<String>) {
    if param == "validation" {
        rec.validation_file_id = id;
    } else {
        rec.training_file_id = id;
    }
}

/// Uploads one file (unless the journal has one the API still knows, or an earlier call's
/// upload whose answer was lost is found by its name) and waits until it is processed. The id
/// is journaled as soon as it is known, so a file that is slow to process is waited for again
/// by the next call, never uploaded again.
async fn ensure_uploaded(
    run: &Run<'_>,
    rec: &mut RunRecord,
    param: &str,
    data: &LocalData,
) -> Result<String> {
    let (client, ctx) = (run.client, run.ctx);
    let name = rec.upload_name(param, &data.filename);
    if let Some(id) = file_id(rec, param) {
        match client.retrieve_file(&id, &ctx.cancel).await {
            Ok(f) if !matches!(f.status.as_deref(), Some("error") | Some("failed")) => {
                return Ok(wait_for_processing(run, param, f).await?.id);
            }
            Ok(_) => {}
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Err(e),
        }
        set_file_id(rec, param, None);
        run.journal.save(rec)?;
    } else if rec.files_requested.iter().any(|p| p == param) {
        // An earlier call sent this file and never journaled the answer: look for it.
        if let Ok(files) = client.list_files(&ctx.cancel).await {
            if let Some(f) = files.into_iter().find(|f| {
                f.filename.as_deref() == Some(name.as_str())
                    && f.bytes == i64::try_from(data.bytes).ok()
            }) {
                rec.note_file(&f.id);
                set_file_id(rec, param, Some(f.id.clone()));
                run.journal.save(rec)?;
                if !matches!(f.status.as_deref(), Some("error") | Some("failed")) {
                    return Ok(wait_for_processing(run, param, f).await?.id);
                }
            }
        }
    }
    check_size(run.r, param, data.bytes)?;
    ctx.emit(ProgressEvent::UploadStarted {
        file: param.to_string(),
        bytes: data.bytes,
    });
    if !rec.files_requested.iter().any(|p| p == param) {
        rec.files_requested.push(param.to_string());
        run.journal.save(rec)?;
    }
    let f = if in_parts(run.r, data.bytes) {
        match upload_in_parts(run, rec, param, &name, data).await {
            Err(e)
                if matches!(e.status, Some(400) | Some(404)) && rec.uploads.contains_key(param) =>
            {
                // The Upload expired or was cancelled: start a new one.
                if let Some(old) = rec.uploads.remove(param) {
                    rec.stale_uploads.push(old.upload_id);
                }
                run.journal.save(rec)?;
                upload_in_parts(run, rec, param, &name, data).await?
            }
            other => other?,
        }
    } else {
        let sent = upload_progress(param, data.bytes, ctx);
        client
            .upload_file(&data.path, &name, sent, &ctx.cancel)
            .await?
    };
    rec.note_file(&f.id);
    set_file_id(rec, param, Some(f.id.clone()));
    run.journal.save(rec)?;
    ctx.emit(ProgressEvent::FileUploaded {
        file: param.to_string(),
        file_id: f.id.clone(),
        bytes: data.bytes,
    });
    let f = wait_for_processing(run, param, f).await?;
    ctx.emit(ProgressEvent::FileProcessed {
        file: param.to_string(),
        file_id: f.id.clone(),
    });
    Ok(f.id)
}

/// How long to wait for the API to process an uploaded file: `fileProcessingTimeoutMs`, or
/// less with `timeoutMs`.
fn max_processing_wait(run: &Run<'_>) -> Duration {
    let bound = run.r.file_processing_timeout;
    run.r.timeout.map_or(bound, |t| t.min(bound))
}

/// Waits until an uploaded file is processed, as openai-node's `waitForProcessing` does, for
/// at most [`max_processing_wait`].
async fn wait_for_processing(
    run: &Run<'_>,
    param: &str,
    mut file: FileObject,
) -> Result<FileObject> {
    let (poll, max_wait, cancel) = (
        run.r.poll_interval,
        max_processing_wait(run),
        &run.ctx.cancel,
    );
    let started = tokio::time::Instant::now();
    loop {
        match file.status.as_deref() {
            None | Some("processed") => return Ok(file),
            Some("error") | Some("failed") | Some("deleted") | Some("deleting") => {
                return Err(Error::new(
                    ErrorCode::InvalidTrainingData,
                    format!(
                        "{} could not process file {}: {}",
                        if run.client.is_azure() {
                            "Azure OpenAI"
                        } else {
                            "OpenAI"
                        },
                        file.id,
                        file.status_details.as_deref().unwrap_or("no details given")
                    ),
                ))
            }
            _ => {}
        }
        let elapsed = started.elapsed();
        if elapsed >= max_wait {
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "{param} file {} was still {:?} after {} ms (fileProcessingTimeoutMs{}); it stays journaled, and calling again with the same options waits for it again",
                    file.id,
                    file.status.as_deref().unwrap_or(""),
                    max_wait.as_millis(),
                    if run.r.timeout.is_some_and(|t| t < run.r.file_processing_timeout) { ", bounded by timeoutMs" } else { "" }
                ),
            )
            .with_param(param));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(Error::aborted()),
            _ = tokio::time::sleep(poll.min(max_wait - elapsed)) => {}
        }
        match run.client.retrieve_file(&file.id, cancel).await {
            Ok(f) => file = f,
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(e),
        }
    }
}

/// Deletes the files `rec`'s run uploaded (journaled, or named with its prefix) but for
/// `keep`, and cancels its Uploads. Each step is retried like every request; the whole is
/// tried a few times before giving up with the last error.
pub async fn clean_up(
    client: &Client,
    rec: &RunRecord,
    keep: &[String],
    cancel: &CancellationToken,
) -> Result<()> {
    let mut last = None;
    for round in 0..CLEAN_UP_ROUNDS {
        if round > 0 {
            tokio::select! {
                _ = cancel.cancelled() => return Err(Error::aborted()),
                _ = tokio::time::sleep(Duration::from_millis(200 << round)) => {}
            }
        }
        match clean_up_once(client, rec, keep, cancel).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_abort() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::new(ErrorCode::Internal, "clean-up did not run")))
}

/// How many times [`clean_up`] tries.
const CLEAN_UP_ROUNDS: u32 = 5;

async fn clean_up_once(
    client: &Client,
    rec: &RunRecord,
    keep: &[String],
    cancel: &CancellationToken,
) -> Result<()> {
    let uploads = rec
        .stale_uploads
        .iter()
        .chain(rec.uploads.values().map(|u| &u.upload_id));
    for id in uploads {
        client.cancel_upload(id, cancel).await?;
    }
    if rec.uploaded_files.is_empty() && rec.files_requested.is_empty() && rec.uploads.is_empty() {
        return Ok(());
    }
    let prefix = rec.upload_prefix();
    let listed = client.list_files(cancel).await?;
    let mut doomed: Vec<String> = listed
        .into_iter()
        .filter(|f| {
            f.filename
                .as_deref()
                .is_some_and(|n| n.starts_with(&prefix))
                || rec.uploaded_files.contains(&f.id)
        })
        .map(|f| f.id)
        .collect();
    doomed.retain(|id| !keep.contains(id));
    for id in doomed {
        client.delete_file(&id, cancel).await?;
    }
    Ok(())
}

/// Reports an upload's bytes as `uploadProgress` events, about every 1 % (and at the end).
fn upload_progress(param: &str, total: u64, ctx: &RunContext) -> Option<SentFn> {
    let progress = ctx.progress.clone()?;
    let file = param.to_string();
    let step = (total / 100).max(64 * 1024);
    let last = AtomicU64::new(0);
    Some(Arc::new(move |sent: u64| {
        let prev = last.load(Ordering::Relaxed);
        if sent < prev || sent - prev >= step || sent == total {
            last.store(sent, Ordering::Relaxed);
            progress(ProgressEvent::UploadProgress {
                file: file.clone(),
                sent,
                total,
            });
        }
    }))
}

/// The journaled Upload of `param`, while it lives and matches the file; else a new one.
async fn upload_state(
    run: &Run<'_>,
    rec: &mut RunRecord,
    param: &str,
    name: &str,
    data: &LocalData,
) -> Result<UploadState> {
    let now = chrono::Utc::now().timestamp();
    match rec.uploads.get(param) {
        Some(s) if s.total_bytes == data.bytes && s.expires_at.is_none_or(|e| e > now + 60) => {
            Ok(s.clone())
        }
        stale => {
            let old = stale.map(|u| u.upload_id.clone());
            rec.stale_uploads.extend(old);
            let part_bytes = run.r.upload_part_bytes;
            let up = run
                .client
                .create_upload(name, data.bytes, &run.ctx.cancel)
                .await?;
            let parts = data.bytes.div_ceil(part_bytes).max(1) as usize;
            Ok(UploadState {
                upload_id: up.id,
                part_bytes,
                total_bytes: data.bytes,
                part_ids: vec![None; parts],
                expires_at: up.expires_at,
            })
        }
    }
}

/// Sends a file through the Uploads API: create (or resume) the Upload, send the missing parts
/// a few at a time (each retried on its own), journal each part id, then complete.
async fn upload_in_parts(
    run: &Run<'_>,
    rec: &mut RunRecord,
    param: &str,
    name: &str,
    data: &LocalData,
) -> Result<FileObject> {
    let (client, ctx): (&Client, &RunContext) = (run.client, run.ctx);
    let mut state = upload_state(run, rec, param, name, data).await?;
    rec.uploads.insert(param.to_string(), state.clone());
    run.journal.save(rec)?;
    let part_len = |i: usize| {
        let offset = i as u64 * state.part_bytes;
        (offset, state.part_bytes.min(state.total_bytes - offset))
    };
    let missing: Vec<usize> = (0..state.part_ids.len())
        .filter(|i| state.part_ids[*i].is_none())
        .collect();
    let mut sent: u64 = (0..state.part_ids.len())
        .filter(|i| state.part_ids[*i].is_some())
        .map(|i| part_len(i).1)
        .sum();
    let upload_id = state.upload_id.clone();
    let mut results = futures::stream::iter(missing.into_iter().map(|i| {
        let (offset, len) = part_len(i);
        let (upload_id, path) = (upload_id.clone(), data.path.clone());
        async move {
            let id = client
                .add_upload_part(&upload_id, &path, offset, len, &ctx.cancel)
                .await;
            (i, len, id)
        }
    }))
    .buffer_unordered(PART_CONCURRENCY);
    while let Some((i, len, id)) = results.next().await {
        state.part_ids[i] = Some(id?);
        sent += len;
        rec.uploads.insert(param.to_string(), state.clone());
        run.journal.save(rec)?;
        ctx.emit(ProgressEvent::UploadProgress {
            file: param.to_string(),
            sent,
            total: state.total_bytes,
        });
    }
    drop(results);
    let ids: Vec<String> = state.part_ids.iter().flatten().cloned().collect();
    let done = client
        .complete_upload(&state.upload_id, &ids, &ctx.cancel)
        .await?;
    rec.uploads.remove(param);
    done.file.ok_or_else(|| {
        Error::new(
            ErrorCode::Api,
            format!("Upload {} completed without a file", state.upload_id),
        )
    })
}
