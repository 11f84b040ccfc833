import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  cancelFineTune,
  listInFlightRuns,
  startEmulator,
  trainAndRegisterFineTunedModel,
  type Emulator,
} from 'taskforce-fine-tune'
import { api, chatJsonl, counts, rejection, runChild, tempDir, writeFile, pipelineOptions, useTempDir, waitFor } from './helpers'

const tmp = useTempDir()

let seed = 0

/**
 * Options for one run. Each call gets its own `seed`: the tests share an emulator, and the same
 * modelKey, data and options would adopt the job an earlier test trained (its idempotency key).
 */
function base(emu: Emulator, extra: Record<string, unknown> = {}): any {
  return pipelineOptions(emu, tmp.dir, { modelKey: 'writer_v1', seed: seed++, ...extra })
}

function journalFiles(): string[] {
  const runs = path.join(tmp.dir, 'fine-tuned', '.runs')
  return fs.existsSync(runs) ? fs.readdirSync(runs).filter((f) => f.endsWith('.json') && !f.startsWith('.')) : []
}

function journal(): any {
  const [f] = journalFiles()
  return f ? JSON.parse(fs.readFileSync(path.join(tmp.dir, 'fine-tuned', '.runs', f), 'utf8')) : undefined
}

/** Runs the pipeline and aborts it as soon as its job exists: the rejection and the job id. */
async function abortOnceJobCreated(opts: any): Promise<{ err: any; jobId: string }> {
  const controller = new AbortController()
  let jobId = ''
  const err = await rejection(
    trainAndRegisterFineTunedModel({
      ...opts,
      signal: controller.signal,
      onProgress: (e: any) => {
        if (e.type === 'jobCreated') {
          jobId = e.jobId
          controller.abort()
        }
      },
    }),
  )
  return { err, jobId }
}

describe('faults', () => {
  let emu: Emulator
  beforeAll(async () => {
    emu = await startEmulator({
      jobDurationMs: 400,
      faults: { seed: 42, rate: 0.3, kinds: ['500', '503', '429', 'drop', 'lost'], retryAfterMs: 20 },
    })
  })
  afterAll(async () => {
    await emu.close()
  })

  test('at a 30% fault rate the model is still registered, with exactly one job', async () => {
    const opts = base(emu, { maxRetries: 8 })
    const model = await trainAndRegisterFineTunedModel(opts)
    const registry = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8'))
    expect(registry.writer_v1.model.name).toBe(model.fineTunedModel)
    // Ask the emulator with faults out of the way: retry our own look-ups until they pass.
    let jobs: any
    for (let i = 0; i < 50 && !jobs; i++) {
      try {
        jobs = await api(emu.url, emu.apiKey, '/fine_tuning/jobs?limit=100')
      } catch {
        /* an injected fault; ask again */
      }
    }
    expect(jobs.data.filter((j: any) => j.metadata?.model_key === 'writer_v1')).toHaveLength(1)
    // Orphan uploads only where an upload's answer was lost or broken and the upload retried.
    const stats = emu.stats()
    expect(stats.filesCreated - 1).toBeLessThanOrEqual(stats.faultsByEndpoint['files.create'] ?? 0)
    expect(journalFiles()).toEqual([])
  })
})

describe('abort, resume and cancel', () => {
  let emu: Emulator
  beforeAll(async () => {
    emu = await startEmulator({ jobDurationMs: 1500 })
  })
  afterAll(async () => {
    await emu.close()
  })

  test('abort rejects with AbortError, leaves the job journaled, and a later call resumes it', async () => {
    const opts = base(emu)
    const { err, jobId } = await abortOnceJobCreated(opts)
    expect(err.code).toBe('ABORT_ERR')
    expect(err.name).toBe('AbortError')
    expect(journal().jobId).toBe(jobId)
    expect(listInFlightRuns({ registryPath: opts.registryPath })).toEqual([
      expect.objectContaining({ modelKey: 'writer_v1', jobId, agentName: 'Writer', jobRequested: true }),
    ])
    const before = await counts(emu.url, emu.apiKey)

    const model = await trainAndRegisterFineTunedModel(opts)
    expect(model.jobId).toBe(jobId)
    expect(await counts(emu.url, emu.apiKey)).toEqual(before) // no new upload, no new job
    expect(journalFiles()).toEqual([])
  })

  test('resuming with changed local data is refused, naming the running job', async () => {
    const opts = base(emu)
    const { jobId } = await abortOnceJobCreated(opts)
    fs.appendFileSync(opts.source, chatJsonl(1))
    const err = await rejection(trainAndRegisterFineTunedModel(opts))
    expect(err.code).toBe('ERR_MODEL_KEY_IN_PROGRESS')
    expect(err.jobId).toBe(jobId)
    expect(journal().jobId).toBe(jobId)
  })

  test('cancelOnAbort cancels the job and clears the journal', async () => {
    const { err, jobId } = await abortOnceJobCreated({ ...base(emu), cancelOnAbort: true })
    expect(err.code).toBe('ABORT_ERR')
    const job = await api(emu.url, emu.apiKey, `/fine_tuning/jobs/${jobId}`)
    expect(job.status).toBe('cancelled')
    expect(journalFiles()).toEqual([])
  })

  test('the same modelKey with other options while a run is in flight: ERR_MODEL_KEY_IN_PROGRESS; cancelFineTune clears it', async () => {
    const opts = base(emu)
    // Stopped once its job exists (a 100 ms timeoutMs could fire before the upload on a loaded
    // machine, and a run that created nothing no longer blocks the next call).
    const { err, jobId } = await abortOnceJobCreated(opts)
    expect(err.code).toBe('ABORT_ERR')
    err.jobId = jobId
    // The signal is part of the call, not of the run: the run stays in flight for the key.
    const other = await rejection(trainAndRegisterFineTunedModel({ ...opts, suffix: 'other' }))
    expect(other.code).toBe('ERR_MODEL_KEY_IN_PROGRESS')
    const cancelled = await cancelFineTune('writer_v1', { registryPath: opts.registryPath, apiKey: emu.apiKey, baseUrl: emu.url })
    expect(cancelled).toBe(err.jobId)
    expect((await api(emu.url, emu.apiKey, `/fine_tuning/jobs/${err.jobId}`)).status).toBe('cancelled')
    expect(journalFiles()).toEqual([])
    const none = await rejection(cancelFineTune('writer_v1', { registryPath: opts.registryPath, apiKey: emu.apiKey, baseUrl: emu.url }))
    expect(none.code).toBe('ERR_NOT_FOUND')
  })

  test('two calls for the same modelKey at once: exactly one runs it', async () => {
    const opts = base(emu)
    const results = await Promise.allSettled([
      trainAndRegisterFineTunedModel(opts),
      trainAndRegisterFineTunedModel(opts),
    ])
    const ok = results.filter((r) => r.status === 'fulfilled')
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
    expect(ok).toHaveLength(1)
    expect(refused).toHaveLength(1)
    expect(['ERR_MODEL_KEY_IN_PROGRESS', 'ERR_DUPLICATE_MODEL_KEY']).toContain(refused[0].reason.code)
  })
})

describe('processes', () => {
  let emu: Emulator
  beforeAll(async () => {
    emu = await startEmulator({ jobDurationMs: 2500 })
  })
  afterAll(async () => {
    await emu.close()
  })

  test('a child killed with SIGKILL mid-poll, then the call repeated, registers with one job', async () => {
    const opts = base(emu)
    const { child, done } = runChild(opts)
    await waitFor(() => journal()?.jobId, 20_000, 'the job id in the journal')
    const jobId = journal().jobId
    child.kill('SIGKILL')
    const exit = await done
    expect(exit.signal).toBe('SIGKILL')
    const before = await counts(emu.url, emu.apiKey)

    const model = await trainAndRegisterFineTunedModel(opts)
    expect(model.jobId).toBe(jobId)
    expect(await counts(emu.url, emu.apiKey)).toEqual(before)
    const registry = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8'))
    expect(Object.keys(registry)).toEqual(['writer_v1'])
  })

  test('two processes starting the same modelKey at once: exactly one runs it', async () => {
    const opts = base(emu, { modelKey: 'same_key' })
    const [a, b] = [runChild(opts), runChild(opts)]
    const results = (await Promise.all([a.done, b.done])).map((e) => e.result)
    const ok = results.filter((r) => r.ok)
    const refused = results.filter((r) => !r.ok)
    expect(ok).toHaveLength(1)
    expect(refused).toHaveLength(1)
    expect(['ERR_MODEL_KEY_IN_PROGRESS', 'ERR_DUPLICATE_MODEL_KEY']).toContain(refused[0].code)
    const jobs = await api(emu.url, emu.apiKey, '/fine_tuning/jobs?limit=100')
    expect(jobs.data.filter((j: any) => j.metadata?.model_key === 'same_key')).toHaveLength(1)
  })

  test('sixteen processes registering sixteen keys at once leave sixteen entries in valid JSON', async () => {
    const source = writeFile(tmp.dir, 'train.jsonl', chatJsonl(12))
    // All options first: pipelineOptions rewrites the default data file, which a child started
    // earlier may be reading.
    const options = Array.from({ length: 16 }, (_, i) =>
      base(emu, { source, modelKey: `key_${i}`, agentName: `Agent ${i}`, maxRetries: 5 }),
    )
    const runs = options.map((o) => runChild(o))
    const exits = await Promise.all(runs.map((r) => r.done))
    expect(exits.map((e) => (e.result?.ok ? 'ok' : `${e.result?.code}: ${e.result?.message}`))).toEqual(Array(16).fill('ok'))
    const registry = JSON.parse(fs.readFileSync(path.join(tmp.dir, 'fine-tuned', 'models.json'), 'utf8'))
    expect(Object.keys(registry).sort()).toEqual(Array.from({ length: 16 }, (_, i) => `key_${i}`).sort())
  }, 120000)
})

describe('large files go up in parts', () => {
  let emu: Emulator
  beforeAll(async () => {
    // Every part answer is slowed, so that a run can be killed mid-upload.
    emu = await startEmulator({
      jobDurationMs: 300,
      faults: { rate: 1, endpoints: ['uploads.part'], kinds: ['slow'], slowMs: 120 },
    })
  })
  afterAll(async () => {
    await emu.close()
  })

  test('a file over the threshold goes up through the Uploads API, in order', async () => {
    const source = writeFile(tmp.dir, 'big.jsonl', chatJsonl(60))
    const size = fs.statSync(source).size
    const partBytes = 1000
    const events: any[] = []
    const before = emu.stats()
    const model = await trainAndRegisterFineTunedModel(
      base(emu, { source, uploadThresholdBytes: 2000, uploadPartBytes: partBytes, onProgress: (e: any) => events.push(e) }),
    )
    const after = emu.stats()
    const parts = Math.ceil(size / partBytes)
    expect(after.uploadsCreated - before.uploadsCreated).toBe(1)
    expect(after.uploadsCompleted - before.uploadsCompleted).toBe(1)
    expect(after.uploadPartsCreated - before.uploadPartsCreated).toBe(parts)
    const content = await fetch(`${emu.url}/files/${model.trainingFileId}/content`, {
      headers: { Authorization: `Bearer ${emu.apiKey}` },
    }).then((r) => r.text())
    expect(content).toBe(fs.readFileSync(source, 'utf8'))
    const progress = events.filter((e) => e.type === 'uploadProgress')
    expect(progress).toHaveLength(parts)
    expect(progress[progress.length - 1]).toMatchObject({ sent: size, total: size })
  })

  test('a run killed mid-upload resumes with the missing parts only', async () => {
    const source = writeFile(tmp.dir, 'big.jsonl', chatJsonl(120))
    const size = fs.statSync(source).size
    const partBytes = 1000
    const parts = Math.ceil(size / partBytes)
    const opts = base(emu, { source, uploadThresholdBytes: 2000, uploadPartBytes: partBytes })
    const before = emu.stats()
    const { child, done } = runChild(opts)
    const sentParts = () => (journal()?.uploads?.source?.partIds ?? []).filter((p: any) => p).length
    await waitFor(() => sentParts() >= 6, 20_000, 'six parts journaled')
    child.kill('SIGKILL')
    await done
    const missing = (journal().uploads.source.partIds as any[]).filter((p) => !p).length
    expect(missing).toBeGreaterThan(0)
    // Parts that were on their way at the kill land (or are dropped) before the count is taken.
    await waitFor(() => emu.stats().requestsInFlight === 0, 10_000, 'no request in flight')
    const atKill = emu.stats()

    const model = await trainAndRegisterFineTunedModel(opts)
    const after = emu.stats()
    expect(after.uploadsCreated - before.uploadsCreated).toBe(1) // the same Upload, resumed
    expect(after.uploadPartsCreated - atKill.uploadPartsCreated).toBe(missing)
    expect(after.jobsCreated - before.jobsCreated).toBe(1)
    const content = await fetch(`${emu.url}/files/${model.trainingFileId}/content`, {
      headers: { Authorization: `Bearer ${emu.apiKey}` },
    }).then((r) => r.text())
    expect(content).toBe(fs.readFileSync(source, 'utf8'))
    expect(parts).toBeGreaterThan(missing)
  })
})
