#!/usr/bin/env node
// `npm run bench`: generates its datasets (nothing large is committed), then measures
//  - validateTrainingData: MB/s, tokens/s, peak memory, and the worst event-loop delay while it runs;
//  - the upload through the pipeline against the built-in emulator: MB/s and peak memory.
// Sizes: BENCH_MB (default 42) for the realistic set, BENCH_LARGE_MB (default 200) for the
// event-loop and memory run; BENCH_HUGE=1 adds a 1024 MB run for the "flat memory" check;
// BENCH_NOLINE_MB (default 300) sizes a file with no newline at all, checked in a Node process
// of its own whose whole peak RSS is reported (a line over 64 MiB is refused without being held).
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { validateTrainingData, startEmulator, trainAndRegisterFineTunedModel } = require('..')

const root = path.resolve(__dirname, '..')
const work = path.join(root, '.bench')
fs.mkdirSync(work, { recursive: true })

function dataset(mb, seed) {
  const file = path.join(work, `chat-${mb}mb-seed${seed}.jsonl`)
  if (!fs.existsSync(file)) {
    process.stderr.write(`generating ${file}…\n`)
    execFileSync(process.execPath, [path.join(__dirname, 'gen-dataset.js'), file, String(mb), String(seed)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  }
  return file
}

/** Samples RSS every 10 ms while `fn` runs; also the event loop's worst delay. */
async function measure(fn) {
  const loop = monitorEventLoopDelay({ resolution: 5 })
  let peak = process.memoryUsage.rss()
  const base = peak
  let ticks = 0
  const timer = setInterval(() => {
    ticks++
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 5)
  loop.enable()
  const t0 = process.hrtime.bigint()
  const result = await fn()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  loop.disable()
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage.rss())
  return { result, seconds, base, peak, ticks, maxDelayMs: loop.max / 1e6 }
}

const MB = 1024 * 1024
const fmt = (n, d = 1) => n.toFixed(d)

async function main() {
  const rows = []
  const model = 'gpt-4o-mini-2024-07-18'
  // Load the tokenizer's vocabulary first, so the memory figures show what a check adds.
  await validateTrainingData(dataset(1, 99), { baseModel: model })

  const sizes = [
    ['realistic', Number(process.env.BENCH_MB || 42), 1],
    ['large', Number(process.env.BENCH_LARGE_MB || 200), 7],
  ]
  if (process.env.BENCH_HUGE) sizes.push(['huge', 1024, 11])
  for (const [name, mb, seed] of sizes) {
    const file = dataset(mb, seed)
    const bytes = fs.statSync(file).size
    const runs = []
    for (let i = 0; i < (name === 'realistic' ? 3 : 1); i++) {
      runs.push(await measure(() => validateTrainingData(file, { baseModel: model })))
    }
    const best = runs.reduce((a, b) => (a.seconds < b.seconds ? a : b))
    const r = best.result
    rows.push({
      what: `validate ${name} (${fmt(bytes / MB, 0)} MB, ${r.examples} examples)`,
      'MB/s': fmt(bytes / MB / best.seconds),
      'MB/s (all runs)': runs.map((x) => fmt(bytes / MB / x.seconds)).join(' / '),
      'tokens/s (M)': fmt(r.tokens.total / best.seconds / 1e6),
      'peak RSS MB': fmt(Math.max(...runs.map((x) => x.peak)) / MB, 0),
      'RSS added MB': fmt(Math.max(...runs.map((x) => x.peak - x.base)) / MB, 0),
      'worst loop delay ms': fmt(Math.max(...runs.map((x) => x.maxDelayMs))),
      'timer ticks': runs.map((x) => x.ticks).join(' / '),
      valid: r.valid,
    })
  }

  // A file without a single newline: the peak RSS of a whole Node process checking it.
  {
    const mb = Number(process.env.BENCH_NOLINE_MB || 300)
    const file = path.join(work, `noline-${mb}mb.jsonl`)
    if (!fs.existsSync(file) || fs.statSync(file).size !== mb * MB) {
      const fd = fs.openSync(file, 'w')
      const chunk = Buffer.alloc(MB, 'a')
      for (let i = 0; i < mb; i++) fs.writeSync(fd, chunk)
      fs.closeSync(fd)
    }
    const script = `const t = performance.now();
      require(${JSON.stringify(root)}).validateTrainingData(${JSON.stringify(file)}).then((r) => {
        process.stdout.write(JSON.stringify({ seconds: (performance.now() - t) / 1000,
          maxRssKb: process.resourceUsage().maxRSS, kinds: r.errors.map((e) => e.kind) }))
      })`
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
    rows.push({
      what: `validate ${mb} MB without a newline (own process)`,
      'MB/s': fmt(mb / out.seconds),
      'MB/s (all runs)': '',
      'tokens/s (M)': '',
      'peak RSS MB': fmt(out.maxRssKb / 1024, 0),
      'RSS added MB': '',
      'worst loop delay ms': '',
      'timer ticks': '',
      valid: out.kinds.join(','),
    })
  }

  // Upload through the pipeline against the emulator (validation included in the timing of
  // the whole run, but the upload itself is timed from its progress events).
  const emulator = await startEmulator({ jobDurationMs: 200 })
  try {
    const file = dataset(Number(process.env.BENCH_MB || 42), 1)
    const bytes = fs.statSync(file).size
    for (const [label, threshold] of [
      ['upload (Files API)', bytes + 1],
      ['upload (Uploads API, 8 MiB parts)', 1],
    ]) {
      const registryPath = path.join(work, `models-${Date.now()}.json`)
      let started = 0
      let uploaded = 0
      const m = await measure(() =>
        trainAndRegisterFineTunedModel({
          agentName: 'Bench',
          modelKey: `bench_${Date.now()}`,
          baseModel: model,
          source: file,
          apiKey: emulator.apiKey,
          baseUrl: emulator.url,
          registryPath,
          pollIntervalMs: 100,
          uploadThresholdBytes: threshold,
          uploadPartBytes: 8 * MB,
          onProgress: (e) => {
            if (e.type === 'uploadStarted') started = performance.now()
            if (e.type === 'fileUploaded') uploaded = performance.now()
          },
        }),
      )
      fs.rmSync(registryPath, { force: true })
      rows.push({
        what: `${label} (${fmt(bytes / MB, 0)} MB)`,
        'MB/s': fmt(bytes / MB / ((uploaded - started) / 1000)),
        'MB/s (all runs)': '',
        'tokens/s (M)': '',
        'peak RSS MB': fmt(m.peak / MB, 0),
        'RSS added MB': fmt((m.peak - m.base) / MB, 0),
        'worst loop delay ms': fmt(m.maxDelayMs),
        'timer ticks': String(m.ticks),
        valid: true,
      })
    }
  } finally {
    await emulator.close()
  }
  console.table(rows)
  // The evaluation: 1,000 examples against the emulator, with the event loop free.
  console.table([await require('./eval').benchEval()])
  // A fresh process per run (bench/first-call.js): the vocabulary's load and the addon's size.
  const first = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'first-call.js'), '5'], { encoding: 'utf8' }))
  console.table([first])
  console.log(`node ${process.version}, ${require('node:os').cpus().length} cores; datasets in ${work}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
