import * as fs from 'node:fs'
import * as path from 'node:path'
import { startEmulator, trainAndRegisterFineTunedModel, type Emulator } from 'taskforce-fine-tune'
import { chatJsonl, rejection, tempDir, writeFile, pipelineOptions, useTempDir } from './helpers'

const tmp = useTempDir()

function base(emu: Emulator, extra: Record<string, unknown> = {}): any {
  return pipelineOptions(emu, tmp.dir, { modelKey: 'writer_faults', ...extra })
}

async function withEmulator(faults: any, fn: (emu: Emulator) => Promise<void>): Promise<void> {
  const emu = await startEmulator({ jobDurationMs: 300, faults })
  try {
    await fn(emu)
  } finally {
    await emu.close()
  }
}

test('a create-job answer lost on the network: the job is found by its metadata, never created twice', async () => {
  await withEmulator({ rate: 1, endpoints: ['jobs.create'], kinds: ['lost'], maxFaults: 1 }, async (emu) => {
    const model = await trainAndRegisterFineTunedModel(base(emu))
    const s = emu.stats()
    expect(s.faults.lost_response).toBe(1)
    expect(s.endpoints['jobs.create']).toBe(1) // adopted, not sent again
    expect(s.jobsCreated).toBe(1)
    expect(model.jobId).toMatch(/^ftjob-/)
  })
})

test('a create-job request dropped before it was acted on is sent again, once', async () => {
  await withEmulator({ rate: 1, endpoints: ['jobs.create'], kinds: ['drop'], maxFaults: 1 }, async (emu) => {
    await trainAndRegisterFineTunedModel(base(emu))
    const s = emu.stats()
    expect(s.endpoints['jobs.create']).toBe(2)
    expect(s.jobsCreated).toBe(1)
  })
})

test('a lost upload answer is found by the run\'s file name, not uploaded again; the model is registered', async () => {
  await withEmulator({ rate: 1, endpoints: ['files.create'], kinds: ['lost'], maxFaults: 1 }, async (emu) => {
    const model = await trainAndRegisterFineTunedModel(base(emu))
    const s = emu.stats()
    expect(s.endpoints['files.create']).toBe(1)
    expect(s.filesCreated).toBe(1)
    expect(s.filesCreated - s.filesDeleted).toBe(1)
    expect(s.jobsCreated).toBe(1)
    expect(model.trainingFileId).toMatch(/^file-/)
  })
})

test('a file stuck in processing: ERR_TIMEOUT after fileProcessingTimeoutMs, naming the file; reruns wait for the same file', async () => {
  await withEmulator({ filesStuckProcessing: true }, async (emu) => {
    for (let i = 0; i < 3; i++) {
      const err = await rejection(trainAndRegisterFineTunedModel(base(emu, { fileProcessingTimeoutMs: 200 })))
      expect(err.code).toBe('ERR_TIMEOUT')
      expect(err.message).toMatch(/file-\S+ was still "uploaded"/)
    }
    expect(emu.stats().filesCreated).toBe(1)
    expect(emu.stats().jobsCreated).toBe(0)
  })
})

test('429 with retry-after is retried and honoured', async () => {
  await withEmulator({ rate: 1, endpoints: ['jobs.create'], kinds: ['429'], retryAfterMs: 300, maxFaults: 2 }, async (emu) => {
    const t0 = Date.now()
    await trainAndRegisterFineTunedModel(base(emu))
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600) // two waits of retry-after-ms
    expect(emu.stats().endpoints['jobs.create']).toBe(3)
  })
})

test('a 429 that persists rejects with ERR_RATE_LIMITED after maxRetries', async () => {
  await withEmulator({ rate: 1, endpoints: ['jobs.create'], kinds: ['429'], retryAfterMs: 10 }, async (emu) => {
    const err = await rejection(trainAndRegisterFineTunedModel(base(emu, { maxRetries: 3 })))
    expect(err.code).toBe('ERR_RATE_LIMITED')
    expect(err.status).toBe(429)
    expect(emu.stats().endpoints['jobs.create']).toBe(4)
  })
})

test.each([
  ['quota', 'insufficient_quota'],
  ['daily_limit', 'daily_rate_limit_exceeded'],
])('a %s 429 is not retried: ERR_QUOTA at once', async (kind, apiCode) => {
  await withEmulator({ rate: 1, endpoints: ['jobs.create'], kinds: [kind] }, async (emu) => {
    const err = await rejection(trainAndRegisterFineTunedModel(base(emu, { maxRetries: 5 })))
    expect(err.code).toBe('ERR_QUOTA')
    expect(err.apiCode).toBe(apiCode)
    expect(emu.stats().endpoints['jobs.create']).toBe(1)
  })
})

test('5xx while polling is tolerated until the job finishes', async () => {
  await withEmulator({ seed: 3, rate: 0.6, endpoints: ['jobs.retrieve'], kinds: ['500', '503'] }, async (emu) => {
    const model = await trainAndRegisterFineTunedModel(base(emu, { maxRetries: 0 }))
    expect(emu.stats().faultsByEndpoint['jobs.retrieve']).toBeGreaterThan(0)
    expect(model.fineTunedModel).toMatch(/^ft:/)
  })
})

test('a file stuck in processing ends in ERR_TIMEOUT, not an endless wait', async () => {
  await withEmulator({ filesStuckProcessing: true }, async (emu) => {
    const err = await rejection(trainAndRegisterFineTunedModel(base(emu, { timeoutMs: 400 })))
    expect(err.code).toBe('ERR_TIMEOUT')
    expect(emu.stats().jobsCreated).toBe(0)
  })
})
