// Hostile values given to the exports: circular and very deep options, non-object options,
// non-finite numbers, throwing getters, fake AbortSignals, path-like ids. Each one rejects (or
// throws) a FineTuneError with a documented code, and the ones that used to kill Node run in a
// child process, so a crash shows as the child's signal instead of taking Jest down.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  evaluateModel,
  getFineTuneJob,
  getRegisteredModel,
  isFineTuneError,
  listModelVersions,
  listRegisteredModels,
  pauseFineTune,
  resolveModel,
  trainAndRegisterFineTunedModel,
  validateTrainingData,
} from 'taskforce-fine-tune'
import { chatJsonl, counts, pipelineOptions, tempDir, useEmulator, writeFile } from './helpers'

const CHILD = path.join(__dirname, 'fixtures', 'call-child.js')
const ROOT = path.join(__dirname, '..')

interface Settled {
  code: number | null
  signal: string | null
  result: { ok: boolean; code?: string; message?: string; param?: string; fineTuneError?: boolean; value?: unknown }
}

/** Runs `snippet` (an async function body with `ft` in scope) in a child Node process. */
function inChild(snippet: string, env: Record<string, string> = {}): Promise<Settled> {
  const dir = tempDir()
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(OPENAI_|AZURE_)/.test(k)) childEnv[k] = v
  }
  Object.assign(childEnv, { FT_SNIPPET: snippet, FINE_TUNED_MODELS_PATH: path.join(dir, 'models.json') }, env)
  const child = spawn(process.execPath, [CHILD], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      fs.rmSync(dir, { recursive: true, force: true })
      const line = out.trim().split('\n').pop() || ''
      resolve({ code, signal, result: line ? JSON.parse(line) : { ok: false, message: `no output; stderr: ${err.slice(0, 500)}` } })
    }),
  )
}

const TRAIN = `{ agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 'train.jsonl' }`

/** Every export that takes an options object, called with `opts` (JS source) as its options. */
const CALLS: Record<string, (opts: string) => string> = {
  trainAndRegisterFineTunedModel: (o) => `return ft.trainAndRegisterFineTunedModel({ ...${TRAIN}, ...${o} })`,
  validateTrainingData: (o) => `return ft.validateTrainingData('train.jsonl', ${o})`,
  evaluateModel: (o) => `return ft.evaluateModel({ model: 'gpt-4o-mini', ...${o} })`,
  cancelFineTune: (o) => `return ft.cancelFineTune('k', ${o})`,
  getFineTuneJob: (o) => `return ft.getFineTuneJob('ftjob-abc', ${o})`,
  pauseFineTune: (o) => `return ft.pauseFineTune('ftjob-abc', ${o})`,
  resumeFineTune: (o) => `return ft.resumeFineTune('ftjob-abc', ${o})`,
  importFineTuneJob: (o) => `return ft.importFineTuneJob('ftjob-abc', { agentName: 'A', modelKey: 'k', ...${o} })`,
  checkRegisteredModels: (o) => `return ft.checkRegisteredModels(${o})`,
  removeRegisteredModel: (o) => `return ft.removeRegisteredModel('k', ${o})`,
  getRegisteredModel: (o) => `return ft.getRegisteredModel('k', ${o})`,
  listRegisteredModels: (o) => `return ft.listRegisteredModels(${o})`,
  listModelVersions: (o) => `return ft.listModelVersions('k', ${o})`,
  promoteModelVersion: (o) => `return ft.promoteModelVersion('k', 'ft:m', ${o})`,
  rollbackModel: (o) => `return ft.rollbackModel('k', ${o})`,
  resolveModel: (o) => `return ft.resolveModel('k', ${o})`,
  listInFlightRuns: (o) => `return ft.listInFlightRuns(${o})`,
  startEmulator: (o) => `const e = await ft.startEmulator(${o}); await e.close(); return 'started'`,
}

/** The option each call reads the hostile value as (one it knows, so the value is walked). */
const KEY: Record<string, string> = {
  trainAndRegisterFineTunedModel: 'metadata',
  validateTrainingData: 'method',
  evaluateModel: 'minScores',
  startEmulator: 'faults',
}
const keyOf = (name: string) => KEY[name] ?? 'registryPath'

describe('a circular or very deep options value is ERR_INVALID_OPTION naming its path, never a crash', () => {
  for (const [name, call] of Object.entries(CALLS)) {
    test(`${name}: circular`, async () => {
      const key = keyOf(name)
      const r = await inChild(`const cfg = { a: 1 }; cfg.self = cfg; ${call(`{ ${key}: { cfg } }`)}`)
      expect(r.signal).toBeNull()
      expect(r.code).toBe(0)
      expect(r.result).toMatchObject({ ok: false, code: 'ERR_INVALID_OPTION', fineTuneError: true, param: `${key}.cfg.self` })
      expect(r.result.message).toMatch(new RegExp(`${key}\\.cfg\\.self.*circular`))
    })

    test(`${name}: 10,000 levels deep`, async () => {
      const key = keyOf(name)
      const r = await inChild(`let d = {}; for (let i = 0; i < 10000; i++) d = { d }; ${call(`{ ${key}: d }`)}`)
      expect(r.signal).toBeNull()
      expect(r.code).toBe(0)
      expect(r.result).toMatchObject({ ok: false, code: 'ERR_INVALID_OPTION', fineTuneError: true })
      expect(r.result.message).toMatch(/deeper than 64 levels/)
      expect(r.result.param).toMatch(new RegExp(`^${key}(\\.d)+$`))
    })
  }
})

test("the CLI's --config with 10,000 levels of nesting is refused, not a crash", async () => {
  const dir = tempDir()
  try {
    let deep = '1'
    for (let i = 0; i < 10000; i++) deep = `{"d":${deep}}`
    const config = writeFile(dir, 'config.json', `{"agentName":"A","modelKey":"k","baseModel":"gpt-4o-mini-2024-07-18","source":"t.jsonl","metadata":${deep}}`)
    const r = await new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'fine-tune.js'), 'train', '--config', config], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      child.on('exit', (code, signal) => resolve({ code, signal, stderr }))
    })
    expect(r.signal).toBeNull()
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/ERR_INVALID_OPTION/)
    expect(r.stderr).toMatch(/deeper than 64 levels/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe('a non-object options argument is refused without being read', () => {
  const BIG = `'x'.repeat(50 * 1024 * 1024)`
  for (const name of ['trainAndRegisterFineTunedModel', 'validateTrainingData', 'cancelFineTune', 'getRegisteredModel', 'startEmulator']) {
    test(`${name}: a 50 MB string, a number, an array, a function`, async () => {
      const call = (o: string) =>
        name === 'trainAndRegisterFineTunedModel'
          ? `return ft.trainAndRegisterFineTunedModel(${o})`
          : name === 'startEmulator'
            ? `return ft.startEmulator(${o})`
            : CALLS[name](o)
      const snippet = `
        const out = []
        for (const v of [${BIG}, 42, ['a', 'b'], () => 1, Symbol('s'), 10n, true]) {
          try { await (async () => { ${call('v')} })(); out.push('accepted') }
          catch (e) { out.push([e.code, e.param, e.message.slice(0, 200), ft.isFineTuneError(e)]) }
        }
        return out`
      const r = await inChild(snippet)
      expect(r.signal).toBeNull()
      expect(r.result.ok).toBe(true)
      const got = r.result.value as [string, string, string, boolean][]
      const kinds = ['string', 'number', 'array', 'function', 'symbol', 'bigint', 'boolean']
      expect(got).toHaveLength(kinds.length)
      got.forEach(([code, param, message, isError], i) => {
        expect(code).toBe('ERR_INVALID_OPTION')
        expect(param).toBe('options')
        expect(isError).toBe(true)
        expect(message).toContain(`must be an object, got ${kinds[i] === 'array' ? 'an' : 'a'} ${kinds[i]}`)
      })
    })
  }
})

describe('numbers are finite', () => {
  test.each([
    ['hyperparameters', `{ nEpochs: NaN }`, 'hyperparameters.nEpochs', 'NaN'],
    ['hyperparameters', `{ batchSize: Infinity }`, 'hyperparameters.batchSize', 'Infinity'],
    ['hyperparameters', `{ learningRateMultiplier: -Infinity }`, 'hyperparameters.learningRateMultiplier', '-Infinity'],
    ['timeoutMs', `NaN`, 'timeoutMs', 'NaN'],
    ['evaluate', `{ concurrency: NaN }`, 'evaluate.concurrency', 'NaN'],
    ['integrations', `[{ type: 'wandb', wandb: { project: 'p', tags: [NaN] } }]`, 'integrations[0].wandb.tags[0]', 'NaN'],
  ])('train: %s = %s is ERR_INVALID_OPTION naming %s', async (key, value, param, shown) => {
    // eslint-disable-next-line no-new-func
    const v = new Function(`return ${value}`)()
    const err = await trainAndRegisterFineTunedModel({
      agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 'train.jsonl', [key]: v,
    } as any).catch((e) => e)
    expect(isFineTuneError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param })
    expect(err.message).toContain(`${param} is ${shown}; allowed: a finite number`)
  })

  test('validateTrainingData and evaluateModel refuse NaN too', async () => {
    const a = await validateTrainingData('train.jsonl', { nEpochs: NaN }).catch((e) => e)
    expect(a).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'nEpochs' })
    const b = await evaluateModel({ model: 'm', maxCostUsd: Infinity } as any).catch((e) => e)
    expect(b).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'maxCostUsd' })
  })

  test('the out-of-range message of a hyperparameter names the same rule as its non-finite one', async () => {
    const base = { agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 'train.jsonl' }
    const nan = await trainAndRegisterFineTunedModel({ ...base, hyperparameters: { nEpochs: NaN } } as any).catch((e) => e)
    expect(nan.message).toMatch(/epochs, 1 to 50/)
  })
})

describe('the copy of the options is bounded', () => {
  const base = { agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 'train.jsonl' }
  const refused = (extra: Record<string, unknown>) => trainAndRegisterFineTunedModel({ ...base, ...extra } as any).catch((e) => e)

  test('one 1 MB string repeated in an array is refused once the strings pass 16 MiB', async () => {
    const mb = 'x'.repeat(1 << 20)
    const err = await refused({ metadata: { many: Array(100).fill(mb) } })
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'metadata.many[15]' }) // 15 MiB and the keys before it
    expect(err.message).toMatch(/more than 16777216 bytes of strings/)
  })

  test('a string over 1 MiB, an array of 2^32-1 slots, an object of 20,000 keys', async () => {
    const long = await refused({ suffix: 'x'.repeat((1 << 20) + 1) })
    expect(long).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'suffix' })
    expect(long.message).toMatch(/a string of 1048577 bytes; allowed: at most 1048576/)
    const sparse: unknown[] = []
    sparse.length = 2 ** 32 - 1
    const slots = await refused({ integrations: sparse })
    expect(slots).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'integrations' })
    expect(slots.message).toMatch(/4294967295 items; allowed: at most 10000/)
    const wide = Object.fromEntries(Array.from({ length: 20000 }, (_, i) => [`k${i}`, 'v']))
    const keys = await refused({ metadata: wide })
    expect(keys).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'metadata' })
    expect(keys.message).toMatch(/20000 keys; allowed: at most 10000/)
  })
})

describe('pollIntervalMs has a floor', () => {
  test.each([0, 1, 49])('pollIntervalMs %d is refused', async (ms) => {
    const err = await trainAndRegisterFineTunedModel({
      agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 'train.jsonl', pollIntervalMs: ms,
    }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'pollIntervalMs' })
    expect(err.message).toContain(`pollIntervalMs is ${ms}; allowed: at least 50`)
  })
})

describe('getters that throw, prototype keys', () => {
  test('a throwing getter is ERR_INVALID_OPTION naming the option and what it threw', async () => {
    const opts = { get apiKey(): string { throw new Error('vault locked') } }
    const err = await getFineTuneJob('ftjob-abc', opts as any).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'apiKey' })
    expect(err.message).toMatch(/apiKey.*vault locked/)
    const nested = { registryPath: 'x', get agentName(): string { throw 'plain string' } }
    expect(() => listRegisteredModels(nested as any)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', param: 'agentName' }))
  })

  test('an own __proto__ key is an unknown option; an inherited property is not an option', async () => {
    const own = JSON.parse('{"__proto__": {"apiKey": "sk-x"}}')
    const err = await getFineTuneJob('ftjob-abc', own).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: '__proto__' })
    // Only the object's own properties are options: a registryPath on its prototype is not read.
    const dir = tempDir()
    try {
      const corrupt = writeFile(dir, 'models.json', '[1, 2]')
      expect(() => listRegisteredModels({ registryPath: corrupt })).toThrow(expect.objectContaining({ code: 'ERR_REGISTRY_CORRUPT' }))
      const r = await inChild(`return ft.listRegisteredModels(Object.create({ registryPath: ${JSON.stringify(corrupt)} }))`)
      expect(r.result).toEqual({ ok: true, value: [] })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('positional arguments of the wrong type throw FineTuneErrors', () => {
  test.each([
    ['getRegisteredModel', () => getRegisteredModel(1 as any)],
    ['listModelVersions', () => listModelVersions({} as any)],
    ['resolveModel', () => resolveModel(undefined as any)],
  ])('%s', (_name, call) => {
    let err: any
    try {
      call()
    } catch (e) {
      err = e
    }
    expect(isFineTuneError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION' })
    expect(err.message).toMatch(/must be a string/)
  })
})

describe('with an emulator', () => {
  const ctx = useEmulator({ jobDurationMs: 200 })
  const conn = () => ({ apiKey: ctx.emu.apiKey, baseUrl: ctx.emu.url })

  test('signal must be a real AbortSignal', async () => {
    for (const signal of [{ aborted: true }, { aborted: false, addEventListener() {} }, Object.create(AbortSignal.prototype), 'abort']) {
      const err = await evaluateModel({ ...conn(), model: 'gpt-4o-mini', signal } as any).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'signal' })
      expect(err.message).toMatch(/AbortSignal/)
    }
    const before = ctx.emu.stats().requests
    const dir = tempDir()
    try {
      const opts = pipelineOptions(ctx.emu, dir, { signal: { aborted: true } })
      const err = await trainAndRegisterFineTunedModel(opts).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'signal' })
      expect(ctx.emu.stats().requests).toEqual(before)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('an AbortSignal that is already aborted stops the run before anything is uploaded', async () => {
    const dir = tempDir()
    try {
      const before = await counts(ctx.emu.url, ctx.emu.apiKey)
      const err = await trainAndRegisterFineTunedModel(
        pipelineOptions(ctx.emu, dir, { modelKey: 'pre_aborted', signal: AbortSignal.abort() }),
      ).catch((e) => e)
      expect(err).toMatchObject({ code: 'ABORT_ERR' })
      expect(await counts(ctx.emu.url, ctx.emu.apiKey)).toEqual(before)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('path-like job ids are refused before any request', async () => {
    const before = ctx.emu.stats().requests
    const ids = ['ftjob-x/../../files?', 'ftjob-abc/cancel?x=', 'ftjob-abc?x=1', 'ftjob-abc#f', 'ftjob-a%2Fb', 'ftjob- x', 'ftjob-\u0000', 'ftjob-..']
    for (const id of ids) {
      for (const call of [getFineTuneJob, pauseFineTune]) {
        const err = await call(id, conn()).catch((e) => e)
        expect(err).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'modelKeyOrJobId' })
      }
      const { importFineTuneJob, cancelFineTune, resumeFineTune } = await import('taskforce-fine-tune')
      const imported = await importFineTuneJob(id, { agentName: 'A', modelKey: 'k', ...conn() }).catch((e) => e)
      expect(imported).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'jobId' })
      const resumed = await resumeFineTune(id, conn()).catch((e) => e)
      expect(resumed).toMatchObject({ code: 'ERR_INVALID_OPTION' })
      // cancelFineTune takes a modelKey (never sent): one with '/' is not a modelKey at all.
      const cancelled = await cancelFineTune(id, conn()).catch((e) => e)
      expect(['ERR_INVALID_OPTION', 'ERR_NOT_FOUND']).toContain(cancelled.code)
    }
    expect(ctx.emu.stats().requests).toEqual(before)
  })

  test('a well-formed job id still reaches the API', async () => {
    const dir = tempDir()
    try {
      const m = await trainAndRegisterFineTunedModel(pipelineOptions(ctx.emu, dir, { modelKey: 'ids_ok', source: writeFile(dir, 't.jsonl', chatJsonl(12)) }))
      const job = await getFineTuneJob(m.jobId, conn())
      expect(job.id).toBe(m.jobId)
      expect(job.status).toBe('succeeded')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
