//! Stage 1: each data source (a local path or an http(s) URL) becomes a local file, and the
//! data's digest is journaled so that a resumed run can tell whether the data changed.

use std::path::{Path, PathBuf};

use crate::infra::journal::{self, RunRecord};
use crate::infra::source::{self, Loaded, LocalData};
use crate::infra::task::blocking;
use crate::types::error::{Error, ErrorCode, Result};

use super::Run;

/// Loads one source to a local file (a URL is downloaded into the journal folder, bounded by
/// `maxDownloadBytes`; the download is removed when the returned value is dropped).
pub async fn load_one(run: &Run<'_>, param: &str, src: &str) -> Result<LocalData> {
    if source::is_url(src) {
        source::download(
            param,
            src,
            run.journal.dir(),
            &run.r.download_limits,
            &run.ctx.cancel,
        )
        .await
    } else {
        source::open_local(param, src)
    }
}

/// Loads the training and validation sources.
pub async fn load(run: &Run<'_>) -> Result<Loaded> {
    let o = &run.r.opts;
    let training = load_one(run, "source", &o.source).await?;
    let validation = match &o.validation {
        Some(v) => Some(load_one(run, "validation", v).await?),
        None => None,
    };
    if let (None, Some(fraction)) = (&validation, o.validation_split) {
        return split(run, training, fraction).await;
    }
    Ok(Loaded {
        training,
        validation,
    })
}

/// `validationSplit`: the training data split into a training and a validation file (see
/// [`split_file`]), both temporary.
async fn split(run: &Run<'_>, training: LocalData, fraction: f64) -> Result<Loaded> {
    let (path, dir) = (training.path.clone(), run.journal.dir().to_path_buf());
    let seed = run.r.opts.seed.unwrap_or(0) as u64;
    let (t, v) = blocking(move || split_file(&path, fraction, seed, &dir)).await?;
    let stem = training.filename.trim_end_matches(".jsonl").to_string();
    Ok(Loaded {
        training: LocalData::temporary(t, format!("{stem}.train.jsonl")),
        validation: Some(LocalData::temporary(v, format!("{stem}.validation.jsonl"))),
    })
}

/// The SHA-256 of the files, off the async threads.
pub async fn digest(paths: Vec<PathBuf>) -> Result<String> {
    blocking(move || {
        let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
        journal::data_digest(&refs).map_err(|e| {
            Error::new(
                ErrorCode::SourceNotFound,
                format!("cannot read the data: {e}"),
            )
        })
    })
    .await
}

fn in_flight_with_other_data(key: &str) -> Error {
    Error::new(
        ErrorCode::ModelKeyInProgress,
        format!("a run for modelKey {key:?} is in flight with different training data; call again with the same data to resume it, or cancel it with cancelFineTune({key:?}) or `fine-tune cancel {key}`"),
    )
    .with_param("modelKey")
}

/// Journals the digest of the loaded data, or refuses data that differs from what an earlier
/// call of the same run journaled.
pub async fn journal_digest(run: &Run<'_>, rec: &mut RunRecord, data: &Loaded) -> Result<()> {
    let paths = std::iter::once(data.training.path.clone())
        .chain(data.validation.as_ref().map(|v| v.path.clone()))
        .collect();
    let now = digest(paths).await?;
    match &rec.data_digest {
        Some(d) if *d != now && rec.may_have_spent() => {
            return Err(in_flight_with_other_data(&rec.model_key))
        }
        _ => rec.data_digest = Some(now),
    }
    let digest = rec.data_digest.as_deref().unwrap_or_default();
    rec.idempotency_key = Some(run.r.idempotency_key(digest));
    run.journal.save(rec)
}

/// For a resumed job: the job trains on the data it was given, so refuse to pass it off as
/// the result of local data that has changed since (URL sources are not fetched again).
pub async fn check_unchanged(run: &Run<'_>, rec: &RunRecord, job_id: &str) -> Result<()> {
    let o = &run.r.opts;
    let any_url = source::is_url(&o.source) || o.validation.as_deref().is_some_and(source::is_url);
    let Some(recorded) = rec.data_digest.as_ref().filter(|_| !any_url) else {
        return Ok(());
    };
    let now = match (&o.validation, o.validation_split) {
        (None, Some(fraction)) => {
            // The journaled digest is of the split files: split again.
            let (path, dir) = (PathBuf::from(&o.source), run.journal.dir().to_path_buf());
            let seed = o.seed.unwrap_or(0) as u64;
            let (t, v) = blocking(move || split_file(&path, fraction, seed, &dir)).await?;
            digest(vec![t.to_path_buf(), v.to_path_buf()]).await?
        }
        _ => {
            let paths = std::iter::once(PathBuf::from(&o.source))
                .chain(o.validation.as_ref().map(PathBuf::from))
                .collect();
            digest(paths).await?
        }
    };
    if now != *recorded {
        return Err(Error::new(
            ErrorCode::ModelKeyInProgress,
            format!("job {job_id} for modelKey {:?} is training on an earlier version of the data; wait for it with the same data, or cancel it with cancelFineTune({:?}) (`fine-tune cancel {}`) and start again", rec.model_key, rec.model_key, rec.model_key),
        )
        .with_job(job_id)
        .with_param("modelKey"));
    }
    Ok(())
}

/// Holds out a seeded, stable fraction of a JSONL file: a line goes to validation when the
/// SHA-256 of the seed and the line falls under `fraction` (so a line's side never depends on
/// the other lines or their order). Writes the two files into `dir`; returns their paths.
pub fn split_file(
    source: &Path,
    fraction: f64,
    seed: u64,
    dir: &Path,
) -> Result<(tempfile::TempPath, tempfile::TempPath)> {
    use sha2::{Digest, Sha256};
    use std::io::{BufRead, Write};
    let io = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorCode::SourceNotFound,
            format!("validationSplit: cannot {what}: {e}"),
        )
        .with_param("source")
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create the folder", e))?;
    let input = std::fs::File::open(source).map_err(|e| io("read the training data", e))?;
    let mut train = tempfile::Builder::new()
        .prefix("split-train-")
        .suffix(".jsonl")
        .tempfile_in(dir)
        .map_err(|e| io("write", e))?;
    let mut valid = tempfile::Builder::new()
        .prefix("split-validation-")
        .suffix(".jsonl")
        .tempfile_in(dir)
        .map_err(|e| io("write", e))?;
    {
        let mut tw = std::io::BufWriter::new(train.as_file_mut());
        let mut vw = std::io::BufWriter::new(valid.as_file_mut());
        for line in std::io::BufReader::new(input).lines() {
            let line = line.map_err(|e| io("read the training data", e))?;
            if line.trim().is_empty() {
                continue;
            }
            let h = Sha256::new()
                .chain_update(seed.to_le_bytes())
                .chain_update(line.as_bytes())
                .finalize();
            let x =
                u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8])) as f64 / u64::MAX as f64;
            let w = if x < fraction { &mut vw } else { &mut tw };
            writeln!(w, "{line}").map_err(|e| io("write", e))?;
        }
        tw.flush().map_err(|e| io("write", e))?;
        vw.flush().map_err(|e| io("write", e))?;
    }
    Ok((train.into_temp_path(), valid.into_temp_path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("t.jsonl");
        let lines: Vec<String> = (0..200).map(|i| format!("{{\"i\":{i}}}")).collect();
        std::fs::write(&src, lines.join("\n")).unwrap();
        let (t, v) = split_file(&src, 0.2, 1, dir.path()).unwrap();
        let v1 = std::fs::read_to_string(&v).unwrap();
        let n = v1.lines().count();
        assert!((20..=60).contains(&n), "{n}");
        assert_eq!(
            std::fs::read_to_string(&t).unwrap().lines().count() + n,
            200
        );
        // Reordered input: the same lines are held out.
        let mut rev = lines.clone();
        rev.reverse();
        std::fs::write(&src, rev.join("\n")).unwrap();
        let (_, v2) = split_file(&src, 0.2, 1, dir.path()).unwrap();
        let mut a: Vec<_> = v1.lines().collect();
        let s2 = std::fs::read_to_string(&v2).unwrap();
        let mut b: Vec<_> = s2.lines().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}
