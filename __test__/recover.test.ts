// A call that created nothing never blocks the next one; what cannot finish is refused before
// anything is uploaded; an unknown job id is ERR_NOT_FOUND.
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import {
  getFineTuneJob,
  importFineTuneJob,
  pauseFineTune,
  removeRegisteredModel,
  resumeFineTune,
  startEmulator,
  trainAndRegisterFineTunedModel,
  type Emulator,
} from 'taskforce-fine-tune'
import { chatJsonl, pipelineOptions, rejection, serve, useTempDir, writeFile } from './helpers'
import { cli } from './cli-helpers'

const tmp = useTempDir()
let emu: Emulator

beforeAll(async () => {
  emu = await startEmulator({ jobDurationMs: 300 })
})

afterAll(async () => {
  await emu.close()
})

/** A 127.0.0.1 URL on which nothing listens (a port just freed). */
async function deadUrl(): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((r) => server.close(() => r()))
  return `http://127.0.0.1:${port}/v1`
}

function journalFiles(dir: string): string[] {
  const runs = path.join(dir, 'fine-tuned', '.runs')
  return fs.existsSync(runs) ? fs.readdirSync(runs).filter((f) => f.endsWith('.json') && !f.startsWith('.')) : []
}

describe('a run that created nothing', () => {
  test('a typo in the base URL, then the right one: the second call trains', async () => {
    const opts = pipelineOptions(emu, tmp.dir, { modelKey: 'typo', maxRetries: 0 })
    const first = await rejection(trainAndRegisterFineTunedModel({ ...opts, baseUrl: await deadUrl() }))
    expect(first.code).toBe('ERR_NETWORK')
    const model = await trainAndRegisterFineTunedModel(opts)
    expect(model.modelKey).toBe('typo')
    expect(model.fineTunedModel).toMatch(/^ft:/)
    expect(journalFiles(tmp.dir)).toEqual([])
  })

  test('a run that may have spent money still blocks, naming both ways to cancel it', async () => {
    const opts = pipelineOptions(emu, tmp.dir, { modelKey: 'spent', seed: 11 })
    const controller = new AbortController()
    const aborted = await rejection(
      trainAndRegisterFineTunedModel({
        ...opts,
        signal: controller.signal,
        onProgress: (e: any) => e.type === 'jobCreated' && controller.abort(),
      }),
    )
    expect(aborted.code).toBe('ABORT_ERR')
    const other = await rejection(trainAndRegisterFineTunedModel({ ...opts, suffix: 'other' }))
    expect(other.code).toBe('ERR_MODEL_KEY_IN_PROGRESS')
    expect(other.message).toContain('cancelFineTune("spent")')
    expect(other.message).toContain('fine-tune cancel spent')
    expect(journalFiles(tmp.dir)).toHaveLength(1)
  })
})

describe('refused before any upload', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['evaluate without data', { evaluate: true }, 'evaluate'],
    ['evaluate settings without data', { evaluate: { graders: undefined } }, 'evaluate'],
    ['promote ifBetter without evaluate', { promote: 'ifBetter', onExisting: 'newVersion' }, 'promote'],
  ]
  test.each(cases)('%s: ERR_INVALID_OPTION', async (_name, extra, param) => {
    const before = emu.stats()
    const err = await rejection(trainAndRegisterFineTunedModel(pipelineOptions(emu, tmp.dir, { modelKey: 'refused', ...extra })))
    expect([err.code, err.param]).toEqual(['ERR_INVALID_OPTION', param])
    const after = emu.stats()
    expect(after.filesCreated).toBe(before.filesCreated)
    expect(after.uploadsCreated).toBe(before.uploadsCreated)
    expect(after.jobsCreated).toBe(before.jobsCreated)
  })
})

describe('an unknown job id', () => {
  const conn = () => ({ apiKey: emu.apiKey, baseUrl: emu.url, registryPath: path.join(tmp.dir, 'models.json') })
  test('get, pause, resume and import: ERR_NOT_FOUND with jobId', async () => {
    for (const call of [
      () => getFineTuneJob('ftjob-nope', conn()),
      () => pauseFineTune('ftjob-nope', conn()),
      () => resumeFineTune('ftjob-nope', conn()),
      () => importFineTuneJob('ftjob-nope', { ...conn(), agentName: 'A', modelKey: 'k' }),
    ]) {
      const err = await rejection(call())
      expect([err.code, err.jobId]).toEqual(['ERR_NOT_FOUND', 'ftjob-nope'])
    }
  })

  test('fine-tune import ftjob-nope exits 2 with ERR_NOT_FOUND', async () => {
    const r = await cli(['import', 'ftjob-nope', '--agent-name', 'A', '--model-key', 'k', '--json'], {
      OPENAI_API_KEY: emu.apiKey,
      OPENAI_BASE_URL: emu.url,
      FINE_TUNED_MODELS_PATH: path.join(tmp.dir, 'models.json'),
    })
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain('ERR_NOT_FOUND')
  })
})

describe('an answer the client cannot read', () => {
  /** A server answering every GET of a job with `job`. */
  async function jobServer(job: object) {
    return serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'fine_tuning.job', ...job, id: req.url!.split('/').pop() }))
    })
  }

  test('names the endpoint and the field, as ERR_API', async () => {
    const server = await jobServer({ status: 'running', model: 'gpt-4o-mini', created_at: 'yesterday' })
    try {
      const err = await rejection(getFineTuneJob('ftjob-abc', { apiKey: 'sk-x', baseUrl: `${server.url}/v1`, maxRetries: 0 } as any))
      expect(err.code).toBe('ERR_API')
      expect(err.message).toContain('GET /fine_tuning/jobs/ftjob-abc')
      expect(err.message).toContain('created_at')
    } finally {
      await server.close()
    }
  })

  test('negative counts and dates the spec leaves unbounded are read', async () => {
    const server = await jobServer({ status: 'running', model: 'gpt-4o-mini', created_at: -5, trained_tokens: -1 })
    try {
      const job = await getFineTuneJob('ftjob-neg', { apiKey: 'sk-x', baseUrl: `${server.url}/v1` })
      expect(job.status).toBe('running')
      expect(job.trainedTokens).toBe(-1)
    } finally {
      await server.close()
    }
  })
})

describe('each version keeps its own files', () => {
  test('two versions, two curves; an existing file is never overwritten; remove deletes what the entry owned', async () => {
    const dir = path.join(tmp.dir, 'fine-tuned')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'curves.svg'), 'mine')
    const opts = pipelineOptions(emu, tmp.dir, { modelKey: 'curves', onExisting: 'newVersion' })
    const v1 = await trainAndRegisterFineTunedModel({ ...opts, seed: 21 })
    const v2 = await trainAndRegisterFineTunedModel({ ...opts, seed: 22 })
    expect(v1.curvePath).toBeTruthy()
    expect(v2.curvePath).toBeTruthy()
    expect(v1.curvePath).not.toBe(v2.curvePath)
    expect(fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8')).toBe('mine')
    const registry = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8'))
    const named = registry.curves.versions.map((v: any) => v.fineTune.lossCurve)
    expect(named).toEqual([path.basename(v1.curvePath!), path.basename(v2.curvePath!)])
    const mode = (p: string) => fs.statSync(p).mode & 0o777
    expect(mode(v2.curvePath!)).toBe(mode(opts.registryPath))
    await removeRegisteredModel('curves', { registryPath: opts.registryPath })
    expect(fs.existsSync(v1.curvePath!)).toBe(false)
    expect(fs.existsSync(v2.curvePath!)).toBe(false)
    expect(fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8')).toBe('mine')
  })
})

describe('data errors name the file and the line', () => {
  test('too few examples: the file, and no empty line number', async () => {
    const source = writeFile(tmp.dir, 'few.jsonl', chatJsonl(5))
    const err = await rejection(trainAndRegisterFineTunedModel(pipelineOptions(emu, tmp.dir, { modelKey: 'few', source })))
    expect(err.code).toBe('ERR_INVALID_TRAINING_DATA')
    expect(err.message).toContain(`source ${JSON.stringify(source)}`)
    expect(err.message).toContain('too_few_examples (the file has 5 examples')
    expect(err.message).not.toMatch(/line\s+\(/)
  })

  test('validationSplit: the held-out file is named as a split of the source', async () => {
    const source = writeFile(tmp.dir, 'split.jsonl', chatJsonl(20))
    const err = await rejection(
      trainAndRegisterFineTunedModel(pipelineOptions(emu, tmp.dir, { modelKey: 'split', source, validationSplit: 0.1, seed: 1 })),
    )
    expect([err.code, err.param]).toEqual(['ERR_INVALID_TRAINING_DATA', 'validation'])
    expect(err.message).toContain(`validation (validationSplit of ${JSON.stringify(source)})`)
    expect(err.message).not.toContain('""')
  })
})
