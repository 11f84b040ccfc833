//! Streams the file in chunks of whole lines to worker threads and merges their findings in
//! order. Memory: a few chunks in flight, a token histogram and bounded caches per thread; it does
//! not grow with the file.

use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};

use crate::check::{Checker, Format, Kind, KIND_COUNT};
use crate::tokenize::{Counter, Encoding};
use crate::value::Val;

const CHUNK: usize = 1 << 20;
const HIST_DIRECT: usize = 1 << 16;

#[derive(Clone)]
pub(crate) struct Config {
    pub format: Format,
    pub encoding: Encoding,
    pub context_limit: Option<u32>,
    pub max_lines: usize,
    /// Longer lines are `line_too_long`, and are not held.
    pub max_line_bytes: usize,
    pub model: Option<String>,
}

/// What the reader hands a worker: a chunk of whole lines, or one line that was longer than
/// `max_line_bytes` and was skipped over (its length) instead of being read into memory.
enum Job {
    Lines(Vec<u8>),
    TooLong(u64),
}

/// Exact integer histogram: counts below `HIST_DIRECT`, the rare larger values kept as is.
pub(crate) struct Hist {
    direct: Vec<u64>,
    big: Vec<u64>,
    n: u64,
}

impl Hist {
    fn new() -> Self {
        Hist {
            direct: vec![0; HIST_DIRECT],
            big: Vec::new(),
            n: 0,
        }
    }
    fn add(&mut self, v: u64) {
        self.n += 1;
        if (v as usize) < HIST_DIRECT {
            self.direct[v as usize] += 1;
        } else {
            self.big.push(v);
        }
    }
    fn merge(&mut self, o: Hist) {
        for (a, b) in self.direct.iter_mut().zip(o.direct) {
            *a += b;
        }
        self.big.extend(o.big);
        self.n += o.n;
    }
    pub(crate) fn len(&self) -> u64 {
        self.n
    }
    /// The k-th smallest value (0-based); `big` must be sorted.
    fn nth(&self, k: u64) -> u64 {
        let mut seen = 0u64;
        for (v, &c) in self.direct.iter().enumerate() {
            seen += c;
            if seen > k {
                return v as u64;
            }
        }
        self.big[(k - seen) as usize]
    }
    /// numpy's default (linear) quantile.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let pos = q * (self.n - 1) as f64;
        let lo = pos.floor() as u64;
        let frac = pos - lo as f64;
        let a = self.nth(lo) as f64;
        if frac == 0.0 {
            return a;
        }
        let b = self.nth((lo + 1).min(self.n - 1)) as f64;
        a + frac * (b - a)
    }
    pub(crate) fn min(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            self.nth(0)
        }
    }
    pub(crate) fn max(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            self.nth(self.n - 1)
        }
    }
}

/// Totals over the whole file.
pub(crate) struct Stats {
    pub total: Hist,
    pub assistant: Hist,
    pub token_total: u64,
    pub assistant_total: u64,
    /// Sum of per-example tokens, each capped at the context limit (what is billed).
    pub billed_per_epoch: u64,
    pub objects: u64,
}

impl Stats {
    fn new() -> Self {
        Stats {
            total: Hist::new(),
            assistant: Hist::new(),
            token_total: 0,
            assistant_total: 0,
            billed_per_epoch: 0,
            objects: 0,
        }
    }
    fn merge(&mut self, o: Stats) {
        self.total.merge(o.total);
        self.assistant.merge(o.assistant);
        self.token_total += o.token_total;
        self.assistant_total += o.assistant_total;
        self.billed_per_epoch += o.billed_per_epoch;
        self.objects += o.objects;
    }
}

/// Occurrences of one issue kind; line and example numbers relative to the chunk until merged.
#[derive(Default, Clone)]
pub(crate) struct KindAcc {
    pub count: u64,
    pub lines: Vec<u64>,
    /// (line, example, message, detail) of the first occurrence.
    pub first: Option<(u64, u64, Option<u32>, String)>,
}

struct ChunkResult {
    seq: u64,
    lines: u64,
    examples: u64,
    kinds: Vec<(Kind, KindAcc)>,
}

struct Worker {
    cfg: Config,
    counter: Counter,
    stats: Stats,
}

impl Worker {
    /// Checks the lines of one chunk. (Over 80 lines: the per-line scanning loop, the hot path,
    /// kept whole.)
    fn process(&mut self, seq: u64, data: &[u8]) -> ChunkResult {
        let mut accs: Vec<KindAcc> = vec![KindAcc::default(); KIND_COUNT];
        let mut line_no = 0u64;
        let mut examples = 0u64;
        let mut pos = 0usize;
        let mut checker = Checker {
            counter: &mut self.counter,
            format: self.cfg.format,
            found: Vec::new(),
        };
        while pos < data.len() {
            let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
            let mut line = &data[pos..end];
            pos = end + 1;
            line_no += 1;
            if seq == 0 && line_no == 1 {
                if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                    line = rest;
                    record(
                        &mut accs,
                        Kind::ByteOrderMark,
                        1,
                        1,
                        None,
                        "the file starts with a UTF-8 byte-order mark (EF BB BF), which OpenAI refuses (\"Line 1 is not a dictionary\"); save it as UTF-8 without a BOM".into(),
                        &self.cfg,
                    );
                }
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            examples += 1;
            if line.len() > self.cfg.max_line_bytes {
                record(
                    &mut accs,
                    Kind::LineTooLong,
                    line_no,
                    examples,
                    None,
                    too_long(line.len() as u64, self.cfg.max_line_bytes),
                    &self.cfg,
                );
                continue;
            }
            checker.found.clear();
            let text = match std::str::from_utf8(line) {
                Ok(t) => t,
                Err(e) => {
                    let detail = format!(
                        "the line is not valid UTF-8 (at byte {})",
                        e.valid_up_to() + 1
                    );
                    record(
                        &mut accs,
                        Kind::InvalidUtf8,
                        line_no,
                        examples,
                        None,
                        detail,
                        &self.cfg,
                    );
                    continue;
                }
            };
            let v: Val = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    let detail = format!("invalid JSON: {e}");
                    record(
                        &mut accs,
                        Kind::InvalidJson,
                        line_no,
                        examples,
                        None,
                        detail,
                        &self.cfg,
                    );
                    continue;
                }
            };
            if matches!(v, Val::Obj(_)) {
                self.stats.objects += 1;
            }
            if let Some(t) = checker.check_line(&v) {
                self.stats.total.add(t.total);
                self.stats.assistant.add(t.assistant);
                self.stats.token_total += t.total;
                self.stats.assistant_total += t.assistant;
                let cap = self.cfg.context_limit.map_or(u64::MAX, u64::from);
                self.stats.billed_per_epoch += t.total.min(cap);
                if t.total > cap {
                    checker.found.push(crate::check::Found {
                        kind: Kind::ExampleTooLong,
                        message: None,
                        detail: format!(
                            "{} tokens, over the {}-token training context of {}",
                            t.total,
                            cap,
                            self.cfg.model.as_deref().unwrap_or("the model")
                        ),
                    });
                }
            }
            let mut seen = 0u64;
            for f in checker.found.drain(..) {
                let bit = 1u64 << (f.kind as usize);
                if seen & bit != 0 {
                    continue;
                }
                seen |= bit;
                record(
                    &mut accs, f.kind, line_no, examples, f.message, f.detail, &self.cfg,
                );
            }
        }
        let kinds = Kind::ALL
            .iter()
            .zip(accs)
            .filter(|(_, a)| a.count > 0)
            .map(|(k, a)| (*k, a))
            .collect();
        ChunkResult {
            seq,
            lines: line_no,
            examples,
            kinds,
        }
    }
}

fn too_long(bytes: u64, max: usize) -> String {
    format!(
        "the line is {bytes} bytes long, over the limit of {max} bytes per line; no example OpenAI accepts is that long (is the file missing its newlines?)"
    )
}

/// The result of a line skipped by the reader for being too long: one example, one error.
fn too_long_result(seq: u64, bytes: u64, cfg: &Config) -> ChunkResult {
    let mut accs: Vec<KindAcc> = vec![KindAcc::default(); KIND_COUNT];
    record(
        &mut accs,
        Kind::LineTooLong,
        1,
        1,
        None,
        too_long(bytes, cfg.max_line_bytes),
        cfg,
    );
    ChunkResult {
        seq,
        lines: 1,
        examples: 1,
        kinds: Kind::ALL
            .iter()
            .zip(accs)
            .filter(|(_, a)| a.count > 0)
            .map(|(k, a)| (*k, a))
            .collect(),
    }
}

fn record(
    accs: &mut [KindAcc],
    kind: Kind,
    line: u64,
    example: u64,
    message: Option<u32>,
    detail: String,
    cfg: &Config,
) {
    let a = &mut accs[kind as usize];
    a.count += 1;
    if a.lines.len() < cfg.max_lines {
        a.lines.push(line);
    }
    if a.first.is_none() {
        a.first = Some((line, example, message, detail));
    }
}

/// What the engine hands back to the report builder.
pub(crate) struct Scan {
    pub lines: u64,
    pub bytes: u64,
    pub examples: u64,
    pub kinds: Vec<(Kind, KindAcc)>,
    pub stats: Stats,
}

/// The file read in chunks, checked by a pool of workers, merged in order. (Over 80 lines: one
/// of the dataset's scanning loops, kept whole so that its flow of chunks stays in one place.)
pub(crate) fn scan<R: Read + Send>(
    mut reader: R,
    cfg: &Config,
    threads: usize,
) -> io::Result<Scan> {
    let threads = threads.max(1);
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = sync_channel::<(u64, Job)>(threads);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = channel::<ChunkResult>();
        let (pool_tx, pool_rx) = channel::<Vec<u8>>();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let res_tx = res_tx.clone();
                let pool_tx = pool_tx.clone();
                let cfg = cfg.clone();
                scope.spawn(move || {
                    let mut w = Worker {
                        counter: Counter::new(cfg.encoding),
                        cfg,
                        stats: Stats::new(),
                    };
                    loop {
                        let job = job_rx.lock().expect("job queue").recv();
                        let Ok((seq, job)) = job else { break };
                        let r = match &job {
                            Job::Lines(buf) => w.process(seq, buf),
                            Job::TooLong(bytes) => too_long_result(seq, *bytes, &w.cfg),
                        };
                        if res_tx.send(r).is_err() {
                            break;
                        }
                        if let Job::Lines(buf) = job {
                            let _ = pool_tx.send(buf);
                        }
                    }
                    w.stats
                })
            })
            .collect();
        drop(res_tx);
        drop(pool_tx);

        let mut bytes = 0u64;
        let read = (|| -> io::Result<()> {
            let mut seq = 0u64;
            let mut carry: Vec<u8> = Vec::new();
            let mut eof = false;
            let max_line = cfg.max_line_bytes;
            loop {
                // Buffers grown for a long line are not kept for the next chunks.
                let mut buf = pool_rx
                    .try_recv()
                    .ok()
                    .filter(|b| b.capacity() <= 2 * CHUNK)
                    .unwrap_or_else(|| Vec::with_capacity(CHUNK + (64 << 10)));
                buf.clear();
                buf.extend_from_slice(&carry);
                carry.clear();
                let mut target = CHUNK.max((buf.len() * 2).min(max_line + 1));
                let mut skip = false;
                loop {
                    while buf.len() < target && !eof {
                        let start = buf.len();
                        buf.resize(target, 0);
                        match reader.read(&mut buf[start..]) {
                            Ok(0) => {
                                buf.truncate(start);
                                eof = true;
                            }
                            Ok(n) => buf.truncate(start + n),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(start),
                            Err(e) => return Err(e),
                        }
                    }
                    if eof {
                        break;
                    }
                    if let Some(i) = memchr::memrchr(b'\n', &buf) {
                        carry.extend_from_slice(&buf[i + 1..]);
                        buf.truncate(i + 1);
                        break;
                    }
                    // The whole buffer is one unfinished line.
                    if buf.len() > max_line {
                        skip = true;
                        break;
                    }
                    target = (buf.len() * 2).min(max_line + 1);
                }
                if skip {
                    // Too long to be an example: count its bytes up to the next newline
                    // without holding them, and report it as one line.
                    let mut len = buf.len() as u64;
                    bytes += len;
                    buf.truncate(CHUNK);
                    buf.shrink_to(CHUNK);
                    loop {
                        buf.resize(CHUNK, 0);
                        let n = match reader.read(&mut buf) {
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(e),
                        };
                        if n == 0 {
                            eof = true;
                            break;
                        }
                        match memchr::memchr(b'\n', &buf[..n]) {
                            Some(i) => {
                                len += i as u64;
                                bytes += i as u64 + 1;
                                carry.extend_from_slice(&buf[i + 1..n]);
                                break;
                            }
                            None => {
                                len += n as u64;
                                bytes += n as u64;
                            }
                        }
                    }
                    if job_tx.send((seq, Job::TooLong(len))).is_err() {
                        break;
                    }
                    seq += 1;
                    if eof && carry.is_empty() {
                        break;
                    }
                    continue;
                }
                if buf.is_empty() {
                    break;
                }
                bytes += buf.len() as u64;
                if job_tx.send((seq, Job::Lines(buf))).is_err() {
                    break;
                }
                seq += 1;
                if eof && carry.is_empty() {
                    break;
                }
            }
            Ok(())
        })();
        drop(job_tx);
        let mut results: Vec<ChunkResult> = res_rx.iter().collect();
        let mut stats = Stats::new();
        for h in handles {
            stats.merge(h.join().expect("worker panicked"));
        }
        read?;
        stats.total.big.sort_unstable();
        stats.assistant.big.sort_unstable();

        results.sort_by_key(|r| r.seq);
        let mut merged: Vec<KindAcc> = vec![KindAcc::default(); KIND_COUNT];
        let (mut line_off, mut example_off) = (0u64, 0u64);
        for r in results {
            for (k, a) in r.kinds {
                let m = &mut merged[k as usize];
                m.count += a.count;
                for l in a.lines {
                    if m.lines.len() < cfg.max_lines {
                        m.lines.push(l + line_off);
                    }
                }
                if m.first.is_none() {
                    m.first = a
                        .first
                        .map(|(l, e, msg, d)| (l + line_off, e + example_off, msg, d));
                }
            }
            line_off += r.lines;
            example_off += r.examples;
        }
        let kinds = Kind::ALL
            .iter()
            .zip(merged)
            .filter(|(_, a)| a.count > 0)
            .map(|(k, a)| (*k, a))
            .collect();
        Ok(Scan {
            lines: line_off,
            bytes,
            examples: example_off,
            kinds,
            stats,
        })
    })
}
