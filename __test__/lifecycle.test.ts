// Lifecycle facts from the API: base models' shutdown dates, OpenAI's wind-down, pause and
// resume, and `doctor` for CI.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  checkRegisteredModels,
  listRegisteredModels,
  pauseFineTune,
  resumeFineTune,
  startEmulator,
  trainAndRegisterFineTunedModel,
  type Emulator,
} from 'taskforce-fine-tune'
import { counts, pipelineOptions, rejection, useTempDir, waitFor } from './helpers'

const tmp = useTempDir()
const CLI = path.join(__dirname, '..', 'bin', 'fine-tune.js')

/** `YYYY-MM-DD`, `days` from today (UTC). */
function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)
}

const PAST = 'gpt-4.1-nano-2025-04-14'
const SOON = 'gpt-4.1-mini-2025-04-14'
let emu: Emulator
let windDown: Emulator
beforeAll(async () => {
  emu = await startEmulator({ jobDurationMs: 300, modelShutdownDates: { [PAST]: inDays(-3), [SOON]: inDays(30) } })
  windDown = await startEmulator({ jobDurationMs: 300, fineTuningUnavailable: true })
})
afterAll(async () => {
  await emu.close()
  await windDown.close()
})

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err as any).code : 0, stdout, stderr }),
    )
  })
}

test('a base model already shut down is refused before anything is uploaded', async () => {
  const before = await counts(emu.url, emu.apiKey)
  const err = await rejection(trainAndRegisterFineTunedModel(pipelineOptions(emu, tmp.dir, { baseModel: PAST })))
  expect(err.code).toBe('ERR_UNSUPPORTED_BASE_MODEL')
  expect(err.param).toBe('baseModel')
  expect(err.message).toContain(inDays(-3))
  expect(await counts(emu.url, emu.apiKey)).toEqual(before)
  expect(emu.stats().endpoints['files.create'] ?? 0).toBe(0)
})

test('a base model shutting down within 90 days is warned about and its date stored', async () => {
  const events: any[] = []
  const m = await trainAndRegisterFineTunedModel(
    pipelineOptions(emu, tmp.dir, { baseModel: SOON, onProgress: (e: any) => events.push(e) }),
  )
  expect(m.baseShutdownDate).toBe(inDays(30))
  expect(m.warnings.join('\n')).toContain(`shuts down on ${inDays(30)}`)
  expect(events.find((e) => e.type === 'modelShutdownWarning')).toMatchObject({ model: SOON, shutdownDate: inDays(30), daysLeft: 30 })
  const reg = JSON.parse(fs.readFileSync(m.registryPath, 'utf8'))
  expect(reg.writer_v1.fineTune.baseShutdownDate).toBe(inDays(30))
  const [entry] = listRegisteredModels({ registryPath: m.registryPath })
  expect(entry.stopsAnswering).toMatchObject({ status: 'soon', at: inDays(30), daysLeft: 30 })
  // A base model without a date: no warning, no date.
  const plain = await trainAndRegisterFineTunedModel(pipelineOptions(emu, tmp.dir, { modelKey: 'plain' }))
  expect(plain.baseShutdownDate ?? null).toBeNull()
  expect(plain.warnings).toEqual([])
})

test("the wind-down's refusal is ERR_FINE_TUNING_UNAVAILABLE, nothing is left uploaded, and it is not retried", async () => {
  const opts = pipelineOptions(windDown, tmp.dir)
  const err = await rejection(trainAndRegisterFineTunedModel(opts))
  expect(err.code).toBe('ERR_FINE_TUNING_UNAVAILABLE')
  expect(err.status).toBe(403)
  expect(err.message).toContain('2027-01-06')
  expect(err.message).toContain('Azure OpenAI')
  expect(windDown.stats().endpoints['jobs.create']).toBe(1)
  expect(windDown.stats().filesCreated).toBe(1)
  expect(windDown.stats().filesDeleted).toBe(1)
  expect((await counts(windDown.url, windDown.apiKey)).files).toBe(0)
  // Nothing journaled: a later call starts afresh (and is refused the same way).
  expect(fs.existsSync(path.join(tmp.dir, 'fine-tuned', '.runs', 'writer_v1.json'))).toBe(false)
})

test('pause and resume round-trip while a run waits for its job', async () => {
  const slow = await startEmulator({ jobDurationMs: 4000 })
  try {
    const statuses: string[] = []
    let running!: () => void
    const isRunning = new Promise<void>((r) => (running = r))
    const opts = pipelineOptions(slow, tmp.dir, {
      onProgress: (e: any) => {
        if (e.type === 'status') {
          statuses.push(e.status)
          if (e.status === 'running') running()
        }
      },
    })
    const run = trainAndRegisterFineTunedModel(opts)
    await isRunning
    const conn = { registryPath: opts.registryPath, apiKey: slow.apiKey, baseUrl: slow.url }
    const paused = await pauseFineTune('writer_v1', conn)
    expect(paused.status).toBe('paused')
    // The run sees the pause on its next poll (every 50 ms) and reports it.
    await waitFor(() => statuses.includes('paused'), 10_000, "the run's 'paused' status event")
    const resumed = await resumeFineTune('writer_v1', conn)
    expect(resumed.status).toBe('running')
    const m = await run
    expect(m.fineTunedModel).toMatch(/^ft:/)
    expect(statuses).toEqual(expect.arrayContaining(['running', 'paused', 'succeeded']))
    // Only a running job can be paused.
    const err = await rejection(pauseFineTune(m.jobId, conn))
    expect(err.status).toBe(400)
  } finally {
    await slow.close()
  }
})

test('doctor exits non-zero on a model past its date; checkRegisteredModels re-reads the dates', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  fs.mkdirSync(path.dirname(registryPath), { recursive: true })
  fs.writeFileSync(
    registryPath,
    JSON.stringify({
      old: { model: { name: `ft:${PAST}:org:old:abc`, provider: 'openai' }, fineTune: { agentName: 'A', baseModel: PAST } },
      fresh: { model: { name: 'ft:gpt-4o-mini-2024-07-18:org:x:def', provider: 'openai' }, fineTune: { agentName: 'B', baseModel: 'gpt-4o-mini-2024-07-18' } },
    }),
  )
  const checks = await checkRegisteredModels({ registryPath, apiKey: emu.apiKey, baseUrl: emu.url })
  expect(checks.map((c) => [c.modelKey, c.failing, c.stopsAnswering.status, c.refreshed])).toEqual([
    ['old', true, 'shutDown', true],
    ['fresh', false, 'unknown', true],
  ])
  const env = { OPENAI_API_KEY: emu.apiKey, OPENAI_BASE_URL: emu.url }
  const bad = await cli(['doctor', '--registry-path', registryPath], env)
  expect(bad.code).toBe(5)
  expect(bad.stdout).toContain('✗ old')
  const json = await cli(['doctor', '--registry-path', registryPath, '--json'], env)
  expect(JSON.parse(json.stdout.trim())).toMatchObject({ type: 'doctor', ok: false })
  // Without the past model, doctor passes.
  const reg = JSON.parse(fs.readFileSync(registryPath, 'utf8'))
  delete reg.old
  fs.writeFileSync(registryPath, JSON.stringify(reg))
  const ok = await cli(['doctor', '--registry-path', registryPath], env)
  expect(ok.code).toBe(0)
  const list = await cli(['list', '--registry-path', registryPath])
  expect(list.stdout).toContain('STOPS ANSWERING')
})
