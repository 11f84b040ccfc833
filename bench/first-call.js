#!/usr/bin/env node
// The cost of the first `validateTrainingData` of a process (it loads the tokenizer's vocabulary),
// and the size of the addon: `node bench/first-call.js [runs]` prints one JSON line; `npm run
// bench` prints it in its table. Each run is a fresh Node process: it requires the package
// (timed), validates a 12-example file for gpt-4o-mini (o200k_base) twice and for gpt-4
// (cl100k_base) once; the first-call cost is the first call's time minus the second's.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

if (process.argv[2] === '--child') {
  const t0 = performance.now()
  const { validateTrainingData } = require(root)
  const t1 = performance.now()
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ft-first-call-')), 'train.jsonl')
  const line = (i) =>
    JSON.stringify({ messages: [{ role: 'user', content: `Tagline for product ${i}?` }, { role: 'assistant', content: `Product ${i}: simply better.` }] })
  fs.writeFileSync(file, Array.from({ length: 12 }, (_, i) => line(i)).join('\n') + '\n')
  const time = async (model) => {
    const s = performance.now()
    await validateTrainingData(file, { baseModel: model })
    return performance.now() - s
  }
  ;(async () => {
    const first = await time('gpt-4o-mini-2024-07-18')
    const second = await time('gpt-4o-mini-2024-07-18')
    const cl100k = await time('gpt-4-0613')
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
    process.stdout.write(JSON.stringify({ requireMs: t1 - t0, first, second, cl100kFirst: cl100k }))
  })()
  return
}

const runs = Number(process.argv[2] || 5)
const results = []
for (let i = 0; i < runs; i++) {
  results.push(JSON.parse(execFileSync(process.execPath, [__filename, '--child'], { encoding: 'utf8' })))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const addon = fs.readdirSync(root).find((f) => /^fine-tune\..*\.node$/.test(f))
const out = {
  addon,
  addonMB: addon ? +(fs.statSync(path.join(root, addon)).size / 1e6).toFixed(1) : null,
  runs,
  requireMs: +median(results.map((r) => r.requireMs)).toFixed(1),
  firstCallMs: +median(results.map((r) => r.first)).toFixed(1),
  secondCallMs: +median(results.map((r) => r.second)).toFixed(1),
  firstCallCostMs: +median(results.map((r) => r.first - r.second)).toFixed(1),
  cl100kFirstCallMs: +median(results.map((r) => r.cl100kFirst)).toFixed(1),
}
if (require.main === module) console.log(JSON.stringify(out))
module.exports = out
