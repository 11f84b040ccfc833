//! Issue 9 against the emulator: never a second job, never a hang, never a file left behind.
//! Seeded faults make each scenario repeatable; seeds run concurrently (one emulator each).

use std::sync::Arc;
use std::time::Duration;

use fine_tune_core::{
    cancel_fine_tune, train_and_register, CancellationToken, ErrorCode, ProgressEvent,
    RegisteredModel, RunContext, TrainOptions,
};
use fine_tune_emulator::{Emulator, EmulatorOptions, EmulatorStats, FaultKind, FaultOptions};

mod common;
use common::options;

fn kinds(names: &[&str]) -> Vec<FaultKind> {
    names
        .iter()
        .map(|n| FaultKind::from_name(n, 10, 300).unwrap())
        .collect()
}

/// Faults of one `kind` on every request to `endpoint` (the first `max` only, when given).
fn every(max: Option<u64>, endpoint: &str, kind: &str) -> FaultOptions {
    FaultOptions {
        rate: 1.0,
        max_faults: max,
        endpoints: vec![endpoint.into()],
        kinds: kinds(&[kind]),
        ..Default::default()
    }
}

async fn emulator(faults: FaultOptions) -> Emulator {
    Emulator::start(EmulatorOptions {
        job_duration_ms: Some(300),
        faults,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Files the clients created and did not delete.
fn client_files(s: &EmulatorStats) -> u64 {
    s.files_created - s.files_deleted
}

/// Calls the pipeline until it resolves (at most `max` calls): the model and the calls made.
async fn until_resolved(
    opts: &TrainOptions,
    max: u32,
) -> (Option<RegisteredModel>, u32, Vec<String>) {
    let mut errors = Vec::new();
    for call in 1..=max {
        match train_and_register(opts.clone(), RunContext::default()).await {
            Ok(m) => return (Some(m), call, errors),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (None, max, errors)
}

/// Item 1: with the create's answer lost and the look-up failing too, the create is never sent
/// again unanswered: one job per seed (the old code made two for 4 seeds of 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_whose_look_up_fails_never_makes_a_second_job() {
    let runs = (0..20u64).map(|seed| async move {
        let emu = emulator(FaultOptions {
            seed,
            rate: 0.6,
            endpoints: vec!["jobs.create".into(), "jobs.list".into()],
            kinds: kinds(&["503", "drop", "lost"]),
            ..Default::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let opts = options(&emu, dir.path(), "k");
        let (model, calls, errors) = until_resolved(&opts, 10).await;
        let s = emu.stats();
        emu.close().await;
        (seed, model.is_some(), calls, s.jobs_created, errors)
    });
    let results = futures::future::join_all(runs).await;
    for (seed, ok, calls, jobs, errors) in &results {
        assert!(ok, "seed {seed}: not resolved in {calls} calls: {errors:?}");
        assert_eq!(*jobs, 1, "seed {seed}: {jobs} jobs");
    }
}

/// Item 3: a second machine (its own registry and journal) training the same thing adopts
/// the first one's job, before uploading anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_machine_adopts_the_running_job() {
    let emu = emulator(FaultOptions::default()).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (oa, ob) = (
        options(&emu, a.path(), "shared"),
        options(&emu, b.path(), "shared"),
    );
    let created = Arc::new(tokio::sync::Notify::new());
    let ctx_a = {
        let created = created.clone();
        RunContext {
            progress: Some(Arc::new(move |e| {
                if matches!(e, ProgressEvent::JobCreated { .. }) {
                    created.notify_one();
                }
            })),
            ..Default::default()
        }
    };
    let first = tokio::spawn(train_and_register(oa, ctx_a));
    created.notified().await;
    let second = train_and_register(ob, RunContext::default()).await.unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.job_id, second.job_id);
    assert_eq!(first.fine_tuned_model, second.fine_tuned_model);
    let s = emu.stats();
    assert_eq!(s.jobs_created, 1);
    assert_eq!(s.files_created, 1, "the second machine uploaded nothing");
    emu.close().await;
}

/// Item 3: two machines starting at the same moment end with one job trained (a job created
/// in the race is cancelled at once by its own machine) and the same model registered on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_machines_at_once_train_one_job() {
    let emu = emulator(FaultOptions::default()).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (oa, ob) = (
        options(&emu, a.path(), "shared"),
        options(&emu, b.path(), "shared"),
    );
    let (ra, rb) = tokio::join!(
        train_and_register(oa, RunContext::default()),
        train_and_register(ob, RunContext::default())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.job_id, rb.job_id);
    let s = emu.stats();
    assert_eq!(s.jobs_created - s.jobs_cancelled, 1, "{s:?}");
    assert_eq!(client_files(&s), 1, "only the job's file is left: {s:?}");
    emu.close().await;
}

/// A failed job with the same key is not adopted: a new one is trained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_not_adopted() {
    let emu = emulator(FaultOptions {
        cancel_jobs_after_ms: Some(50),
        ..Default::default()
    })
    .await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = train_and_register(options(&emu, a.path(), "k"), RunContext::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::JobCancelled);
    let e = train_and_register(options(&emu, b.path(), "k"), RunContext::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::JobCancelled);
    assert_eq!(emu.stats().jobs_created, 2);
    emu.close().await;
}

/// Waits until `cond` holds, asking every 5 ms; panics naming `what` after 10 s.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the pipeline and aborts it once the emulator has its create-job request (answered
/// slowly), while that request is on its way.
async fn abort_while_creating(emu: &Emulator, opts: TrainOptions) -> fine_tune_core::Error {
    let cancel = CancellationToken::new();
    let ctx = RunContext {
        cancel: cancel.clone(),
        ..Default::default()
    };
    let mut run = std::pin::pin!(train_and_register(opts, ctx));
    tokio::select! {
        r = &mut run => panic!("not aborted: {:?}", r.map(|m| m.job_id)),
        () = wait_for("the create-job request at the emulator", || {
            emu.stats().endpoints.get("jobs.create").is_some_and(|&n| n > 0)
        }) => cancel.cancel(),
    }
    run.await.unwrap_err()
}

/// Item 2: after an abort while the create was in flight, cancelFineTune finds the job and
/// cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_finds_a_job_created_while_aborting() {
    let emu = emulator(every(None, "jobs.create", "slow")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&emu, dir.path(), "k");
    opts.timeout_ms = None;
    let e = abort_while_creating(&emu, opts.clone()).await;
    assert_eq!(e.code, ErrorCode::Aborted);
    let job = cancel_fine_tune("k", opts.registry_path.clone(), connection(&emu))
        .await
        .unwrap();
    assert!(job.is_some_and(|j| j.starts_with("ftjob-")));
    let s = emu.stats();
    assert_eq!(s.jobs_created, 1);
    assert_eq!(s.jobs_cancelled, 1);
    assert_eq!(s.jobs_active, 0);
    emu.close().await;
}

/// Item 2 with `cancelOnAbort`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_abort_cancels_a_job_created_while_aborting() {
    let emu = emulator(every(None, "jobs.create", "slow")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&emu, dir.path(), "k");
    opts.cancel_on_abort = true;
    let e = abort_while_creating(&emu, opts.clone()).await;
    assert_eq!(e.code, ErrorCode::Aborted);
    let s = emu.stats();
    assert_eq!(s.jobs_created, 1);
    assert_eq!(s.jobs_cancelled, 1);
    assert!(!dir
        .path()
        .join("fine-tuned/.runs")
        .read_dir()
        .unwrap()
        .any(|f| f.unwrap().file_name().to_string_lossy().ends_with(".json")));
    emu.close().await;
}

fn connection(emu: &Emulator) -> fine_tune_core::options::ConnectionOptions {
    fine_tune_core::options::ConnectionOptions {
        api_key: Some(emu.api_key()),
        base_url: Some(emu.url()),
        ..Default::default()
    }
}

/// Item 2: when the job of a create whose answer was lost cannot be looked up, cancelFineTune
/// keeps the run and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_the_run_when_the_look_up_fails() {
    let emu = emulator(every(None, "jobs.create", "slow")).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&emu, dir.path(), "k");
    abort_while_creating(&emu, opts.clone()).await;
    // Pretend the answer never came: forget the job id the aborted call journaled.
    let runs = dir.path().join("fine-tuned/.runs");
    let rec_path = runs
        .read_dir()
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    assert_eq!(rec["jobRequested"], true);
    rec["jobId"] = serde_json::Value::Null;
    std::fs::write(&rec_path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let mut conn = connection(&emu);
    conn.base_url = Some("http://127.0.0.1:9/v1".into()); // nothing listens there
    conn.max_retries = Some(0);
    let e = cancel_fine_tune("k", opts.registry_path.clone(), conn)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Network);
    assert!(e.message.contains("stays journaled"), "{e}");
    assert!(rec_path.exists());
    // With the API reachable, the job is found by its metadata and cancelled.
    let job = cancel_fine_tune("k", opts.registry_path.clone(), connection(&emu))
        .await
        .unwrap();
    assert!(job.is_some());
    assert_eq!(emu.stats().jobs_cancelled, 1);
    emu.close().await;
}

/// Item 5: a file that never gets processed ends in ERR_TIMEOUT naming it (no timeoutMs set),
/// and stays journaled: three calls, one file; cancelFineTune deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_stuck_in_processing_times_out_and_is_not_uploaded_again() {
    let emu = emulator(FaultOptions {
        files_stuck_processing: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&emu, dir.path(), "k");
    opts.file_processing_timeout_ms = Some(200);
    for _ in 0..3 {
        let e = tokio::time::timeout(
            Duration::from_secs(20),
            train_and_register(opts.clone(), RunContext::default()),
        )
        .await
        .expect("no endless wait")
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout);
        assert!(
            e.message.contains("file-") && e.message.contains("\"uploaded\""),
            "{e}"
        );
        assert_eq!(e.param.as_deref(), Some("source"));
    }
    let s = emu.stats();
    assert_eq!(s.files_created, 1);
    assert_eq!(s.jobs_created, 0);
    cancel_fine_tune("k", opts.registry_path.clone(), connection(&emu))
        .await
        .unwrap();
    assert_eq!(client_files(&emu.stats()), 0);
    emu.close().await;
}

/// Item 7: a lost upload answer is found by the run's file name, not uploaded again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_upload_answer_is_found_not_uploaded_again() {
    let emu = emulator(every(Some(1), "files.create", "lost")).await;
    let dir = tempfile::tempdir().unwrap();
    let model = train_and_register(options(&emu, dir.path(), "k"), RunContext::default())
        .await
        .unwrap();
    let s = emu.stats();
    assert_eq!(s.endpoints["files.create"], 1);
    assert_eq!(s.files_created, 1);
    assert_eq!(client_files(&s), 1);
    assert!(model.training_file_id.starts_with("file-"));
    emu.close().await;
}

/// Item 7: a call stopped dead during its upload (its future dropped, as by a kill) leaves a
/// file; the next call finds it and reuses it, and nothing is left but the job's file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_killed_during_its_upload_leaves_nothing_behind() {
    let emu = emulator(every(Some(1), "files.create", "late")).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&emu, dir.path(), "k");
    // Killed once the emulator has made the file, while its (late) answer is on its way.
    tokio::select! {
        r = train_and_register(opts.clone(), RunContext::default()) => panic!("not killed: {:?}", r.map(|m| m.job_id)),
        () = wait_for("the file at the emulator", || emu.stats().files_created > 0) => {}
    }
    // The late answer is sent (or dropped with the connection).
    wait_for("no request in flight", || {
        emu.stats().requests_in_flight == 0
    })
    .await;
    assert_eq!(emu.stats().files_created, 1);
    let model = train_and_register(opts, RunContext::default())
        .await
        .unwrap();
    let s = emu.stats();
    assert_eq!(s.files_created, 1, "reused, not uploaded again");
    assert_eq!(client_files(&s), 1);
    assert!(model.training_file_id.starts_with("file-"));
    emu.close().await;
}

/// Item 7 with the Uploads API: lost answers to parts, completes and creates; after the run
/// only the job's file is left and no Upload is pending but those whose create answer was
/// lost (OpenAI has no way to list Uploads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_uploads_leave_only_the_jobs_file() {
    let emu = emulator(FaultOptions {
        seed: 5,
        rate: 0.5,
        endpoints: vec![
            "uploads.part".into(),
            "uploads.complete".into(),
            "files.delete".into(),
        ],
        kinds: kinds(&["lost", "503"]),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&emu, dir.path(), "k");
    opts.upload_threshold_bytes = Some(100);
    opts.upload_part_bytes = Some(200);
    opts.connection.max_retries = Some(4);
    let (model, calls, errors) = until_resolved(&opts, 10).await;
    assert!(model.is_some(), "{calls} calls: {errors:?}");
    let s = emu.stats();
    assert_eq!(s.jobs_created, 1);
    assert_eq!(client_files(&s), 1, "{s:?}");
    assert_eq!(s.uploads_pending, 0, "{s:?}");
    emu.close().await;
}

/// The soak: 60% faults of every kind on every endpoint, 20 seeds, each seed's call retried
/// until it resolves (at most 10 calls): exactly one job per seed and no file left that the
/// job does not use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_sixty_percent_faults_twenty_seeds() {
    let runs = (0..20u64).map(|seed| async move {
        let emu = emulator(FaultOptions {
            seed,
            rate: 0.6,
            kinds: kinds(&["500", "503", "429", "drop", "lost"]),
            ..Default::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(&emu, dir.path(), "soak");
        opts.connection.max_retries = Some(4);
        let (model, calls, errors) = until_resolved(&opts, 10).await;
        let s = emu.stats();
        emu.close().await;
        (seed, model, calls, s, errors)
    });
    let results = futures::future::join_all(runs).await;
    let mut report = Vec::new();
    for (seed, model, calls, s, errors) in &results {
        report.push(format!(
            "seed {seed}: calls {calls}, jobs {}, files created {} deleted {}, faults {}",
            s.jobs_created, s.files_created, s.files_deleted, s.faults_injected
        ));
        assert!(
            model.is_some(),
            "seed {seed}: not resolved in {calls} calls: {errors:?}"
        );
        assert_eq!(s.jobs_created, 1, "seed {seed}: {s:?}");
        assert_eq!(client_files(s), 1, "seed {seed}: files left: {s:?}");
        assert_eq!(s.uploads_pending, 0, "seed {seed}");
    }
    eprintln!("{}", report.join("\n"));
}
