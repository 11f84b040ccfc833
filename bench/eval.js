#!/usr/bin/env node
// The evaluation benchmark: a model trained on 1,000 ticket-routing examples, evaluated on
// 1,000 held-out ones against its base, against the built-in emulator. Measures the time and
// the worst delay of a 5 ms timer (the event loop must stay free). `node bench/eval.js` runs it
// alone; `npm run bench` includes it.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startEmulator, trainAndRegisterFineTunedModel, evaluateModel } = require('..')

const QUEUES = {
  billing: ['charged', 'twice', 'invoice', 'refund', 'payment', 'card', 'billing', 'subscription'],
  shipping: ['package', 'delivery', 'tracking', 'arrived', 'courier', 'late', 'parcel', 'shipment'],
  account: ['password', 'login', 'locked', 'email', 'reset', 'username', 'profile', 'account'],
  technical: ['crash', 'error', 'app', 'bug', 'freezes', 'update', 'screen', 'slow'],
}
const TOOLS = [{ type: 'function', function: { name: 'route_ticket', parameters: { type: 'object', properties: { queue: { type: 'string' } } } } }]

function tickets(n, seed) {
  let a = seed >>> 0
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const names = Object.keys(QUEUES)
  const lines = []
  for (let i = 0; i < n; i++) {
    const queue = names[i % names.length]
    const words = [...QUEUES[queue]].sort(() => r() - 0.5).slice(0, 4)
    lines.push(JSON.stringify({
      messages: [
        { role: 'system', content: 'Route the support ticket to its queue.' },
        { role: 'user', content: `Customer ${seed}-${i}: ${words.join(' ')}` },
        { role: 'assistant', tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'route_ticket', arguments: JSON.stringify({ queue }) } }] },
      ],
      tools: TOOLS,
    }))
  }
  return lines.join('\n') + '\n'
}

async function benchEval(examples = Number(process.env.BENCH_EVAL_EXAMPLES || 1000)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-bench-eval-'))
  const emulator = await startEmulator({ jobDurationMs: 200 })
  try {
    const conn = { apiKey: emulator.apiKey, baseUrl: emulator.url, registryPath: path.join(dir, 'models.json') }
    const train = path.join(dir, 'train.jsonl')
    const heldOut = path.join(dir, 'held-out.jsonl')
    fs.writeFileSync(train, tickets(1000, 1))
    fs.writeFileSync(heldOut, tickets(examples, 2))
    await trainAndRegisterFineTunedModel({ ...conn, agentName: 'Bench', modelKey: 'router', baseModel: 'gpt-4o-mini-2024-07-18', source: train, pollIntervalMs: 50 })
    let last = performance.now()
    let worst = 0
    const timer = setInterval(() => {
      const now = performance.now()
      worst = Math.max(worst, now - last - 5)
      last = now
    }, 5)
    const t0 = performance.now()
    const report = await evaluateModel({ ...conn, modelKey: 'router', data: heldOut, concurrency: 8 })
    const seconds = (performance.now() - t0) / 1000
    clearInterval(timer)
    const g = report.graders.find((x) => x.name === report.primaryGrader)
    return {
      what: `evaluate ${report.examples} examples x 2 models (emulator)`,
      seconds: seconds.toFixed(2),
      'requests/s': ((report.examples * 2) / seconds).toFixed(0),
      'worst 5 ms timer delay ms': worst.toFixed(1),
      better: report.better,
      [`${report.primaryGrader} cand/base`]: `${g.candidateMean.toFixed(3)} / ${g.baselineMean.toFixed(3)}`,
    }
  } finally {
    await emulator.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { benchEval }

if (require.main === module) {
  benchEval()
    .then((row) => {
      console.table([row])
      console.log(`node ${process.version}, ${os.cpus().length} cores`)
    })
    .catch((e) => {
      console.error(e)
      process.exit(1)
    })
}
