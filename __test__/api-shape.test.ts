// The API's surface: what each call really returns has exactly the shape index.d.ts declares
// (read with the TypeScript compiler, so a field the core adds and the declarations miss, or
// the reverse, fails here); every call refuses an unknown option; registry writes wait for the
// lock off the JavaScript thread; every call that talks to the API is bounded by timeoutMs and
// signal.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as readline from 'node:readline'
import ts from 'typescript'
import * as ft from 'taskforce-fine-tune'
import { chatJsonl, pipelineOptions, rejection, serve, useEmulator, useTempDir, writeFile } from './helpers'

const ROOT = path.join(__dirname, '..')
const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

// ---- the declarations, as TypeScript reads them ----

const program = ts.createProgram([path.join(ROOT, 'index.d.ts')], { strict: true, noEmit: true, skipLibCheck: true })
const checker = program.getTypeChecker()
const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, 'index.d.ts'))!)!
const exported = checker.getExportsOfModule(moduleSymbol)

function declared(name: string): ts.Type {
  const s = exported.find((e) => e.name === name)
  if (!s) throw new Error(`index.d.ts declares no ${name}`)
  return checker.getDeclaredTypeOfSymbol(s)
}

const has = (t: ts.Type, flags: ts.TypeFlags) => (t.isUnion() ? t.types.some((u) => (u.flags & flags) !== 0) : (t.flags & flags) !== 0)

/**
 * Where `value` departs from `type`: a key the type does not declare, a required key the value
 * lacks, a `null` where none is allowed, a value of another kind.
 */
function departures(value: unknown, type: ts.Type, at: string, out: string[] = []): string[] {
  if (value === null) {
    if (!has(type, ts.TypeFlags.Null | ts.TypeFlags.Any | ts.TypeFlags.Unknown)) out.push(`${at}: null, declared ${checker.typeToString(type)}`)
    return out
  }
  if (has(type, ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return out
  const t = checker.getNonNullableType(type)
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    const kinds: Record<string, ts.TypeFlags> = { string: ts.TypeFlags.StringLike, number: ts.TypeFlags.NumberLike, boolean: ts.TypeFlags.BooleanLike }
    const want = kinds[typeof value]
    if (!has(t, want)) out.push(`${at}: a ${typeof value}, declared ${checker.typeToString(t)}`)
    return out
  }
  if (Array.isArray(value)) {
    const item = checker.getIndexTypeOfType(t, ts.IndexKind.Number)
    if (!item) out.push(`${at}: an array, declared ${checker.typeToString(t)}`)
    else value.forEach((v, i) => departures(v, item, `${at}[${i}]`, out))
    return out
  }
  if (typeof value !== 'object') {
    out.push(`${at}: a ${typeof value}`)
    return out
  }
  // A union of object types (a tagged union such as ProgressEvent): the member whose literal
  // `type` matches, else the only object member.
  let obj = t
  if (t.isUnion()) {
    const members = t.types.filter((u) => u.flags & ts.TypeFlags.Object)
    const tag = (value as any).type
    obj =
      members.find((m) => {
        const p = m.getProperty('type')
        return p && tag !== undefined && checker.typeToString(checker.getTypeOfSymbol(p)) === JSON.stringify(tag)
      }) ?? members[0]
    if (!obj) {
      out.push(`${at}: an object, declared ${checker.typeToString(t)}`)
      return out
    }
  }
  const indexed = checker.getIndexTypeOfType(obj, ts.IndexKind.String)
  for (const [k, v] of Object.entries(value)) {
    const p = obj.getProperty(k)
    if (p) departures(v, checker.getTypeOfSymbol(p), `${at}.${k}`, out)
    else if (indexed) departures(v, indexed, `${at}.${k}`, out)
    else out.push(`${at}.${k}: not declared in ${checker.typeToString(obj)}`)
  }
  for (const p of obj.getProperties()) {
    if (!(p.flags & ts.SymbolFlags.Optional) && !(p.name in (value as object))) out.push(`${at}.${p.name}: declared, missing`)
  }
  return out
}

function expectShape(value: unknown, typeName: string) {
  expect(departures(value, declared(typeName), typeName)).toEqual([])
}

test('the shape checker itself finds an undeclared key, a missing key and a wrong kind', () => {
  const entry = { modelKey: 'k', model: { name: 'm', provider: 'openai', supportsTools: true, maxContextTokens: 1 }, fineTune: null }
  const found = departures({ ...entry, extra: 1, model: { ...entry.model, maxContextTokens: 'x' } }, declared('RegistryEntry'), 'e')
  expect(found).toEqual(['e.model.maxContextTokens: a string, declared number', 'e.extra: not declared in RegistryEntry', 'e.stopsAnswering: declared, missing'])
})

test('every value a call returns, and every progress event, has the declared shape', async () => {
  const events: unknown[] = []
  const opts = pipelineOptions(fx.emu, tmp.dir, {
    validation: writeFile(tmp.dir, 'valid.jsonl', chatJsonl(10)),
    onProgress: (e: unknown) => events.push(e),
  })
  const model = await ft.trainAndRegisterFineTunedModel(opts)
  expectShape(model, 'RegisteredModel')
  expect(model.metrics).not.toBeNull()
  expect(typeof model.model).toBe('object')
  const types = new Set(events.map((e: any) => e.type))
  for (const t of ['dataChecked', 'uploadStarted', 'fileUploaded', 'jobCreated', 'status', 'jobEvent', 'registered']) expect(types).toContain(t)
  for (const e of events) expectShape(e, 'ProgressEvent')
  // Times are ISO 8601 everywhere, progress events included.
  const jobEvent: any = events.find((e: any) => e.type === 'jobEvent')
  expect(jobEvent.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)

  const { registryPath } = opts
  const entry = ft.getRegisteredModel('writer_v1', { registryPath })!
  expectShape(entry, 'RegistryEntry')
  expect(entry.fineTune!.metrics).toEqual(model.metrics)
  for (const e of ft.listRegisteredModels({ registryPath })) expectShape(e, 'RegistryEntry')
  const second = await ft.trainAndRegisterFineTunedModel({ ...opts, onExisting: 'newVersion', suffix: 'b', onProgress: undefined })
  const versions = ft.listModelVersions('writer_v1', { registryPath })
  expect(versions).toHaveLength(2)
  for (const v of versions) expectShape(v, 'ModelVersion')
  // The same model shape wherever a model appears.
  expect(versions[1].model).toEqual(second.model)
  expect(ft.getRegisteredModel('writer_v1', { registryPath })!.model).toEqual(second.model)

  const job = await ft.getFineTuneJob('writer_v1', { registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url })
  expectShape(job, 'FineTuneJob')
  for (const t of [job.createdAt, job.finishedAt]) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)

  const checks = await ft.checkRegisteredModels({ registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url })
  expect(checks).toHaveLength(1)
  for (const c of checks) expectShape(c, 'ModelCheck')
  expect(checks[0].model).toEqual(second.model)

  expectShape(await ft.validateTrainingData(opts.source, { baseModel: opts.baseModel }), 'DatasetReport')
  for (const o of ft.fineTuneOptions()) expectShape(o, 'FineTuneOptionSpec')

  // A run left in flight (its job outlives timeoutMs).
  const slow = await ft.startEmulator({ jobDurationMs: 60000 })
  try {
    const timedOut = await rejection(ft.trainAndRegisterFineTunedModel({ ...opts, modelKey: 'slow', apiKey: slow.apiKey, baseUrl: slow.url, timeoutMs: 1500, onProgress: undefined }))
    expect(timedOut.code).toBe('ERR_TIMEOUT')
    const runs = ft.listInFlightRuns({ registryPath })
    expect(runs.map((r) => r.modelKey)).toEqual(['slow'])
    for (const r of runs) expectShape(r, 'InFlightRun')
    expect(await ft.cancelFineTune('slow', { registryPath, apiKey: slow.apiKey, baseUrl: slow.url })).toMatch(/^ftjob-/)
  } finally {
    await slow.close()
  }

  const removed = await ft.removeRegisteredModel('writer_v1', { registryPath })
  expectShape(removed, 'RemovedModel')
})

// ---- every call refuses an unknown option ----

const UNKNOWN = { registryPth: 'typo.json' }
const CALLS: Record<string, () => unknown> = {
  trainAndRegisterFineTunedModel: () => ft.trainAndRegisterFineTunedModel({ agentName: 'A', modelKey: 'k', baseModel: 'gpt-4o-mini-2024-07-18', source: 't.jsonl', ...UNKNOWN } as any),
  validateTrainingData: () => ft.validateTrainingData('t.jsonl', UNKNOWN as any),
  evaluateModel: () => ft.evaluateModel({ model: 'gpt-4o-mini', ...UNKNOWN } as any),
  cancelFineTune: () => ft.cancelFineTune('k', UNKNOWN as any),
  getFineTuneJob: () => ft.getFineTuneJob('k', UNKNOWN as any),
  pauseFineTune: () => ft.pauseFineTune('k', UNKNOWN as any),
  resumeFineTune: () => ft.resumeFineTune('k', UNKNOWN as any),
  importFineTuneJob: () => ft.importFineTuneJob('ftjob-abc', { agentName: 'A', modelKey: 'k', ...UNKNOWN } as any),
  checkRegisteredModels: () => ft.checkRegisteredModels(UNKNOWN as any),
  removeRegisteredModel: () => ft.removeRegisteredModel('k', UNKNOWN as any),
  getRegisteredModel: () => ft.getRegisteredModel('k', UNKNOWN as any),
  listRegisteredModels: () => ft.listRegisteredModels(UNKNOWN as any),
  resolveModel: () => ft.resolveModel('k', UNKNOWN as any),
  listModelVersions: () => ft.listModelVersions('k', UNKNOWN as any),
  promoteModelVersion: () => ft.promoteModelVersion('k', 'ft:m', UNKNOWN as any),
  rollbackModel: () => ft.rollbackModel('k', UNKNOWN as any),
  listInFlightRuns: () => ft.listInFlightRuns(UNKNOWN as any),
  startEmulator: () => ft.startEmulator(UNKNOWN as any),
}

test('every exported call that takes options is listed here', () => {
  const takesOptions = Object.keys(ft).filter((k) => typeof (ft as any)[k] === 'function' && !['Emulator', 'fineTuneOptions', 'isFineTuneError'].includes(k))
  expect(Object.keys(CALLS).sort()).toEqual(takesOptions.sort())
})

test.each(Object.keys(CALLS))('%s refuses an unknown option with ERR_INVALID_OPTION naming it', async (name) => {
  let e: any
  try {
    await CALLS[name]()
  } catch (err) {
    e = err
  }
  expect(e).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'registryPth' })
  expect(ft.isFineTuneError(e)).toBe(true)
})

// ---- every option a declaration lists is one the call reads ----

/** Each call's options type, with the required options it needs besides. */
const OPTION_TYPES: [string, string, (o: object) => unknown][] = [
  ['validateTrainingData', 'ValidateOptions', (o) => ft.validateTrainingData('t.jsonl', o as any)],
  ['evaluateModel', 'EvaluateOptions', (o) => ft.evaluateModel({ model: 'gpt-4o-mini', ...o } as any)],
  ['getFineTuneJob', 'JobOptions', (o) => ft.getFineTuneJob('k', o as any)],
  ['cancelFineTune', 'ConnectionOptions', (o) => ft.cancelFineTune('k', o as any)],
  ['importFineTuneJob', 'ImportJobOptions', (o) => ft.importFineTuneJob('ftjob-abc', { agentName: 'A', modelKey: 'k', ...o } as any)],
  ['checkRegisteredModels', 'CheckOptions', (o) => ft.checkRegisteredModels(o as any)],
  ['removeRegisteredModel', 'RemoveModelOptions', (o) => ft.removeRegisteredModel('k', o as any)],
  ['listModelVersions', 'RegistryOptions', (o) => ft.listModelVersions('k', o as any)],
  ['listRegisteredModels', 'ListModelsOptions', (o) => ft.listRegisteredModels(o as any)],
]

test.each(OPTION_TYPES)('every option %s declares (%s) is read by the call, none refused as unknown', async (_name, typeName, call) => {
  const names = declared(typeName).getProperties().map((p) => p.name)
  expect(names.length).toBeGreaterThan(0)
  const unknown: string[] = []
  for (const key of names) {
    // A value of no option's type: the call stops while reading its options, before any work.
    let e: any
    try {
      await call({ [key]: [[Symbol.iterator.toString()]] })
    } catch (err) {
      e = err
    }
    expect({ key, code: e?.code }).toEqual({ key, code: 'ERR_INVALID_OPTION' })
    if (/unknown field/.test(e.message)) unknown.push(key)
  }
  expect(unknown).toEqual([])
})

// ---- registry writes wait for the lock off the JavaScript thread ----

/** Another process holding the registry's write lock (`flock`, as the library takes it) until its stdin closes. */
async function holdLock(registryPath: string) {
  // It lets go when told (stdin closes), or after 10 s whatever happens.
  const script = 'import fcntl, select, sys\nf = open(sys.argv[1], "a")\nfcntl.flock(f, fcntl.LOCK_EX)\nprint("locked", flush=True)\nselect.select([sys.stdin], [], [], 10)\n'
  const child = spawn('python3', ['-c', script, `${registryPath}.lock`], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    lines.once('line', (l) => (l === 'locked' ? resolve() : reject(new Error(l))))
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`)))
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return { release: () => (child.stdin!.end(), exited) }
}

test.each(['promoteModelVersion', 'rollbackModel'])('%s waits for a lock held by another process without blocking the event loop', async (name) => {
  const registryPath = path.join(tmp.dir, 'models.json')
  const v = (n: string) => ({ model: { name: n, provider: 'openai', supportsTools: true, maxContextTokens: 1 }, registeredAt: '2026-01-01T00:00:00Z' })
  fs.writeFileSync(registryPath, JSON.stringify({ k: { ...v('ft:b'), versions: [v('ft:a'), v('ft:b')], previous: ['ft:a'] } }))
  const lock = await holdLock(registryPath)
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = Date.now()
  let settled = false
  const call = (name === 'promoteModelVersion' ? ft.promoteModelVersion('k', 'ft:a', { registryPath }) : ft.rollbackModel('k', { registryPath })).finally(() => (settled = true))
  // The call is pending while the lock is held, and the event loop keeps ticking meanwhile.
  while (ticks < 50 && Date.now() - started < 8000) await new Promise((r) => setImmediate(r))
  expect(ticks).toBeGreaterThanOrEqual(50)
  expect(settled).toBe(false)
  await lock.release()
  expect(await call).toBe(name === 'promoteModelVersion' ? 'ft:b' : 'ft:a')
  clearInterval(timer)
  expect(Date.now() - started).toBeGreaterThanOrEqual(400)
  expect(JSON.parse(fs.readFileSync(registryPath, 'utf8')).k.model.name).toBe('ft:a')
})

// ---- every call that talks to the API is bounded ----

describe('against a server that never answers', () => {
  let silent: { url: string; close: () => Promise<void> }
  // Where a run gets as far as its job (which outlives the test), to be cancelled against `silent`.
  let slow: ft.Emulator
  beforeAll(async () => {
    silent = await serve(() => {})
    slow = await ft.startEmulator({ jobDurationMs: 600000 })
  })
  afterAll(async () => {
    await silent.close()
    await slow.close()
  })

  const conn = () => ({ apiKey: 'sk-test', baseUrl: `${silent.url}/v1`, maxRetries: 0 })
  /** A registry with one fine-tuned model, so that remove and check have something to ask about. */
  function registry(): string {
    const p = path.join(tmp.dir, 'models.json')
    const fineTune = { agentName: 'A', baseModel: 'gpt-4o-mini-2024-07-18', jobId: 'ftjob-abc', finishedAt: '2026-01-01T00:00:00Z' }
    fs.writeFileSync(p, JSON.stringify({ k: { model: { name: 'ft:gpt-4o-mini-2024-07-18:org:k:abc', provider: 'openai' }, fineTune } }))
    return p
  }
  const BOUNDED: Record<string, (o: object) => Promise<unknown>> = {
    getFineTuneJob: (o) => ft.getFineTuneJob('ftjob-abc', { ...conn(), ...o }),
    pauseFineTune: (o) => ft.pauseFineTune('ftjob-abc', { ...conn(), ...o }),
    resumeFineTune: (o) => ft.resumeFineTune('ftjob-abc', { ...conn(), ...o }),
    importFineTuneJob: (o) => ft.importFineTuneJob('ftjob-abc', { agentName: 'A', modelKey: 'imported', registryPath: registry(), ...conn(), ...o }),
    removeRegisteredModel: (o) => ft.removeRegisteredModel('k', { deleteRemote: true, registryPath: registry(), ...conn(), ...o }),
    checkRegisteredModels: (o) => ft.checkRegisteredModels({ registryPath: registry(), ...conn(), ...o }),
    validateTrainingData: (o) => ft.validateTrainingData(`${silent.url}/train.jsonl`, o),
    cancelFineTune: async (o) => {
      // A run in flight with a job: cancelling it asks the API (here, the silent server).
      const run = pipelineOptions(slow, tmp.dir, { modelKey: 'c', timeoutMs: 1500 })
      expect(await rejection(ft.trainAndRegisterFineTunedModel(run))).toMatchObject({ code: 'ERR_TIMEOUT' })
      expect(ft.listInFlightRuns({ registryPath: run.registryPath })[0].jobId).toMatch(/^ftjob-/)
      return ft.cancelFineTune('c', { registryPath: run.registryPath, ...conn(), ...o })
    },
  }

  /** When the call itself starts (after any run `cancelFineTune` needs first). */
  const startOf = (name: string) => (name === 'cancelFineTune' ? 1500 : 0)

  test.each(Object.keys(BOUNDED))('%s rejects with ERR_TIMEOUT within timeoutMs', async (name) => {
    const started = Date.now()
    const e = await rejection(BOUNDED[name]({ timeoutMs: 300 }))
    const took = Date.now() - started - startOf(name)
    expect(e).toMatchObject({ code: 'ERR_TIMEOUT', param: 'timeoutMs' })
    expect(e.message).toContain(`${name} did not finish within 300 ms`)
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(3000)
  })

  test.each(Object.keys(BOUNDED))('%s rejects with ABORT_ERR when its signal aborts', async (name) => {
    const controller = new AbortController()
    const call = BOUNDED[name]({ signal: controller.signal })
    setTimeout(() => controller.abort(), startOf(name) + 300)
    const e = await rejection(call)
    expect(e).toMatchObject({ code: 'ABORT_ERR', name: 'AbortError' })
  })
})

test('downloadMinBytesPerSecond: 0 is refused (a download always has a minimum rate)', async () => {
  const source = writeFile(tmp.dir, 'train.jsonl', chatJsonl(12))
  const e = await rejection(ft.validateTrainingData(source, { downloadMinBytesPerSecond: 0 }))
  expect(e).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'downloadMinBytesPerSecond' })
  const t = await rejection(ft.trainAndRegisterFineTunedModel({ ...pipelineOptions(fx.emu, tmp.dir), downloadMinBytesPerSecond: 0 }))
  expect(t).toMatchObject({ code: 'ERR_INVALID_OPTION', param: 'downloadMinBytesPerSecond' })
})
