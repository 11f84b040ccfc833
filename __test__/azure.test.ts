// Azure OpenAI's data plane against the emulator's strict Azure flavours (v1, 2024-10-21,
// 2025-04-01-preview), through a recording proxy: what goes over the wire per version.
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  checkRegisteredModels,
  evaluateModel,
  getFineTuneJob,
  importFineTuneJob,
  pauseFineTune,
  removeRegisteredModel,
  trainAndRegisterFineTunedModel,
} from 'taskforce-fine-tune'
import { chatJsonl, pipelineOptions, rejection, runChild, tempDir, useEmulator, useTempDir, writeFile } from './helpers'
import { DECLARED_JOB_FIELDS, declaredQuery, recordingProxy, type Recorded } from './azure-helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })
let proxy: Awaited<ReturnType<typeof recordingProxy>>

beforeAll(async () => {
  proxy = await recordingProxy(fx.emu.url.replace(/\/v1$/, ''))
})
afterAll(async () => {
  await proxy.close()
})

let seed = 0

/** Options against the proxy's Azure endpoint; each run gets its own seed (its own job). */
function azure(extra: Record<string, unknown> = {}): any {
  const { baseUrl, ...rest } = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_azure', seed: seed++ })
  return { ...rest, azureEndpoint: proxy.url, ...extra }
}

/** The requests recorded during `fn`. */
async function recorded(fn: () => Promise<unknown>): Promise<Recorded[]> {
  const from = proxy.log.length
  await fn()
  return proxy.log.slice(from)
}

/** Checks that every request of `log` sends only what `version` declares. */
function expectOnlyDeclared(log: Recorded[], version: string): void {
  expect(log.length).toBeGreaterThan(0)
  for (const r of log) {
    const where = `${r.method} ${r.path}?${r.query}`
    if (version === 'v1') {
      expect({ where, v1: r.path.startsWith('/openai/v1/') }).toEqual({ where, v1: true })
      expect({ where, apiVersion: r.query.get('api-version') }).toEqual({ where, apiVersion: null })
    } else {
      expect({ where, dated: r.path.startsWith('/openai/') && !r.path.startsWith('/openai/v1/') }).toEqual({ where, dated: true })
      expect({ where, apiVersion: r.query.get('api-version') }).toEqual({ where, apiVersion: version })
    }
    const extra = [...r.query.keys()].filter((k) => k !== 'api-version' && !declaredQuery(r.method, r.path).includes(k))
    expect({ where, undeclaredQuery: extra }).toEqual({ where, undeclaredQuery: [] })
    if (r.formFields) expect({ where, form: r.formFields.sort() }).toEqual({ where, form: ['file', 'purpose'] })
    if (r.method === 'POST' && /\/fine_tuning\/jobs$/.test(r.path)) {
      const undeclared = Object.keys(r.json).filter((k) => !DECLARED_JOB_FIELDS[version].includes(k))
      expect({ where, undeclared }).toEqual({ where, undeclared: [] })
    }
  }
}

const jobCreate = (log: Recorded[]) => log.filter((r) => r.method === 'POST' && /\/fine_tuning\/jobs$/.test(r.path))

test("azureEndpoint without apiVersion is Azure's v1 API: /openai/v1, no api-version, the api-key header", async () => {
  let m: any
  const log = await recorded(async () => {
    m = await trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, hyperparameters: { nEpochs: 2 } }))
  })
  expectOnlyDeclared(log, 'v1')
  expect(log.every((r) => r.auth.join() === 'api-key')).toBe(true)
  expect(log.some((r) => r.path.includes('/uploads'))).toBe(false)
  const [create] = jobCreate(log)
  expect(create.status).toBe(200)
  expect(create.json.method).toEqual({ type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } })
  expect(create.json.metadata.idempotency_key).toMatch(/^[0-9a-f]{32}$/)
  // v1 has no metadata filter: the look-ups page the list and match it here.
  const lists = log.filter((r) => r.method === 'GET' && r.path === '/openai/v1/fine_tuning/jobs')
  expect(lists.length).toBeGreaterThan(0)
  expect(m.fineTunedModel).toMatch(/^gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}$/)
  expect(m.model.name).toBe(m.fineTunedModel)
})

test('2024-10-21: only the fields its spec declares, top-level hyperparameters, numbers only', async () => {
  let m: any
  const log = await recorded(async () => {
    m = await trainAndRegisterFineTunedModel(
      azure({ apiKey: fx.emu.apiKey, apiVersion: '2024-10-21', agentName: 'Writer v2.0', hyperparameters: { nEpochs: 2, batchSize: 'auto' } }),
    )
  })
  expectOnlyDeclared(log, '2024-10-21')
  const [create] = jobCreate(log)
  expect(create.status).toBe(201)
  expect(create.json.hyperparameters).toEqual({ n_epochs: 2 })
  // The suffix derived from the agent's name is made to fit the dated rule (no '.').
  expect(create.json.suffix).toBe('writer-v2-0')
  // The idempotency key rides in the training file's name (the job keeps no metadata).
  const upload = log.find((r) => r.method === 'POST' && r.path === '/openai/files')
  expect(upload).toBeDefined()
  expect(m.jobId).toMatch(/^ft/)
  expect(m.fineTunedModel).toMatch(/\.ft-[0-9a-f]{32}$/)
})

test('2025-04-01-preview: method and W&B, no metadata', async () => {
  const log = await recorded(() =>
    trainAndRegisterFineTunedModel(
      azure({
        apiKey: fx.emu.apiKey,
        apiVersion: '2025-04-01-preview',
        method: 'dpo',
        source: writeFile(tmp.dir, 'prefs.jsonl', dpoJsonl(12)),
        hyperparameters: { beta: 0.2, nEpochs: 'auto' },
        integrations: [{ type: 'wandb', wandb: { project: 'p' } }],
      }),
    ),
  )
  expectOnlyDeclared(log, '2025-04-01-preview')
  const [create] = jobCreate(log)
  expect(create.json.method).toEqual({ type: 'dpo', dpo: { hyperparameters: { beta: 0.2 } } })
  expect(create.json.integrations).toEqual([{ type: 'wandb', wandb: { project: 'p' } }])
  expect(create.json.metadata).toBeUndefined()
})

function dpoJsonl(n: number): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        input: { messages: [{ role: 'user', content: `Tagline ${i}?` }] },
        preferred_output: [{ role: 'assistant', content: `Good ${i}` }],
        non_preferred_output: [{ role: 'assistant', content: `Bad ${i}` }],
      }),
    ).join('\n') + '\n'
  )
}

test('what a version cannot honour is refused before anything is sent, naming the option and the version', async () => {
  const before = proxy.log.length
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ apiVersion: '2024-10-21', method: 'dpo', source: writeFile(tmp.dir, 'p.jsonl', dpoJsonl(12)) }, 'method', '2024-10-21'],
    [{ apiVersion: '2024-10-21', integrations: [{ type: 'wandb', wandb: { project: 'p' } }] }, 'integrations', '2024-10-21'],
    [{ apiVersion: '2024-10-21', metadata: { team: 'x' } }, 'metadata', '2024-10-21'],
    [{ apiVersion: '2025-04-01-preview', metadata: { team: 'x' } }, 'metadata', '2025-04-01-preview'],
    [{ apiVersion: '2024-10-21', suffix: 'a'.repeat(41) }, 'suffix', '2024-10-21'],
    [{ apiVersion: '2025-04-01-preview', suffix: 'writer.v2' }, 'suffix', '2025-04-01-preview'],
    [{ apiVersion: '2024-02-01' }, 'apiVersion', '2024-02-01'],
  ]
  for (const [extra, param, version] of cases) {
    const e = await rejection(trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, ...extra })))
    expect({ param, code: e.code, got: e.param }).toEqual({ param, code: 'ERR_INVALID_OPTION', got: param })
    expect(e.message).toContain(version)
  }
  // Pausing on 2024-10-21 (its paths have no pause).
  const e = await rejection(
    pauseFineTune('ft-0123456789abcdef', { azureEndpoint: proxy.url, apiKey: fx.emu.apiKey, apiVersion: '2024-10-21', registryPath: path.join(tmp.dir, 'r.json') }),
  )
  expect([e.code, e.param]).toEqual(['ERR_INVALID_OPTION', 'apiVersion'])
  expect(e.message).toContain('2024-10-21')
  expect(proxy.log.length).toBe(before)
})

test('a training file over 512 MB is refused before upload, naming the limit', async () => {
  const big = path.join(tmp.dir, 'big.jsonl')
  fs.writeFileSync(big, '')
  fs.truncateSync(big, 512 * 1024 * 1024 + 1)
  const before = proxy.log.length
  for (const apiVersion of [undefined, '2024-10-21']) {
    const e = await rejection(trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, apiVersion, source: big })))
    expect([e.code, e.param]).toEqual(['ERR_INVALID_OPTION', 'source'])
    expect(e.message).toContain('512 MB')
  }
  expect(proxy.log.length).toBe(before)
})

test('without an API key, the data plane gets a Microsoft Entra ID token for its scope, written nowhere', async () => {
  const scopes: string[] = []
  const token = fx.emu.apiKey // the emulator takes its key as the bearer token
  let m: any
  const log = await recorded(async () => {
    m = await trainAndRegisterFineTunedModel(
      azure({
        apiKey: undefined,
        azureToken: async (scope: string) => {
          scopes.push(scope)
          return token
        },
      }),
    )
  })
  expectOnlyDeclared(log, 'v1')
  expect(log.filter((r) => !(r.auth.join() === 'authorization' && r.bearer === token)).map((r) => `${r.method} ${r.path} ${r.auth}`)).toEqual([])
  expect(new Set(scopes)).toEqual(new Set(['https://cognitiveservices.azure.com/.default']))
  expect(scopes.length).toBe(log.length)
  const dir = path.dirname(m.registryPath)
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f)
    if (fs.statSync(p).isFile()) expect(fs.readFileSync(p, 'utf8')).not.toContain(token)
  }
  // No key and no token: the error says what to give.
  const e = await rejection(trainAndRegisterFineTunedModel(azure({ apiKey: undefined, modelKey: 'other' })))
  expect(e.code).toBe('ERR_MISSING_API_KEY')
  expect(e.message).toContain('azureToken')
})

test('azureToken serves every call that talks to the API, not only the training', async () => {
  const m = await trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, modelKey: 'entra_calls' }))
  const token = fx.emu.apiKey
  const scopes: string[] = []
  const conn = {
    azureEndpoint: proxy.url,
    registryPath: m.registryPath,
    azureToken: async (scope: string) => {
      scopes.push(scope)
      return token
    },
  }
  const log = await recorded(async () => {
    expect((await getFineTuneJob('entra_calls', conn)).id).toBe(m.jobId)
    const checks = await checkRegisteredModels(conn)
    expect(checks.map((c) => c.modelKey)).toContain('entra_calls')
    const imported = await importFineTuneJob(m.jobId, { ...conn, agentName: 'Writer', modelKey: 'entra_imported' })
    expect(imported.fineTunedModel).toBe(m.fineTunedModel)
    // evaluateModel asks chat completions of deployments (see azure-deploy.test.ts): here,
    // with no deployment, Azure's 404 comes back through the same Entra ID authentication.
    const data = writeFile(tmp.dir, 'entra-eval.jsonl', chatJsonl(4))
    const report = await evaluateModel({ ...conn, modelKey: 'entra_calls', baseline: 'gpt-4o-mini-2024-07-18', data, cache: false, minScores: {} })
      .then(() => 'resolved', (e: any) => e.status)
    expect(report).toBe(404)
    const removed = await removeRegisteredModel('entra_imported', { ...conn, deleteRemote: false })
    expect(removed.modelKey).toBe('entra_imported')
  })
  expect(log.length).toBeGreaterThan(3)
  expect(log.filter((r) => !(r.auth.join() === 'authorization' && r.bearer === token)).map((r) => `${r.method} ${r.path} ${r.auth}`)).toEqual([])
  expect(new Set(scopes)).toEqual(new Set(['https://cognitiveservices.azure.com/.default']))
  // Without a key or a token, the same call says what to give.
  const e = await rejection(getFineTuneJob('entra_calls', { azureEndpoint: proxy.url, registryPath: m.registryPath }))
  expect(e.code).toBe('ERR_MISSING_API_KEY')
  expect(e.message).toContain('azureToken')
})

test("Azure's v1 endpoint works as a plain base URL", async () => {
  const log = await recorded(() =>
    trainAndRegisterFineTunedModel(azure({ azureEndpoint: undefined, baseUrl: `${proxy.url}/openai/v1`, apiKey: fx.emu.apiKey })),
  )
  expectOnlyDeclared(log, 'v1')
  expect(log.every((r) => r.auth.join() === 'api-key')).toBe(true)
})

test('Azure from AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and OPENAI_API_VERSION', async () => {
  const from = proxy.log.length
  const { done } = runChild(azure({ azureEndpoint: undefined }), {
    OPENAI_BASE_URL: undefined,
    OPENAI_API_KEY: undefined,
    AZURE_OPENAI_ENDPOINT: proxy.url,
    AZURE_OPENAI_API_KEY: fx.emu.apiKey,
    OPENAI_API_VERSION: '2024-10-21',
  })
  const { result } = await done
  expect(result).toMatchObject({ ok: true })
  expectOnlyDeclared(proxy.log.slice(from), '2024-10-21')
})

describe.each([
  ['v1', undefined],
  ['2024-10-21', '2024-10-21'],
])('two machines with separate registries and the same data (%s)', (name, apiVersion) => {
  const own = useEmulator({ jobDurationMs: 400 })
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })

  test('end with one job', async () => {
    const data = chatJsonl(12)
    const endpoint = own.emu.url.replace(/\/v1$/, '')
    const machine = () => {
      const dir = tempDir()
      dirs.push(dir)
      return {
        agentName: 'Writer',
        modelKey: 'writer_azure',
        baseModel: 'gpt-4o-mini-2024-07-18',
        source: writeFile(dir, 'data/train.jsonl', data),
        registryPath: path.join(dir, 'fine-tuned', 'models.json'),
        azureEndpoint: endpoint,
        apiKey: own.emu.apiKey,
        apiVersion,
        pollIntervalMs: 50,
      }
    }
    const [a, b] = [runChild(machine()), runChild(machine())]
    const results = (await Promise.all([a.done, b.done])).map((r) => r.result)
    expect(results.map((r) => r.ok)).toEqual([true, true])
    expect(results[0].model.jobId).toBe(results[1].model.jobId)
    expect(results[0].model.fineTunedModel).toBe(results[1].model.fineTunedModel)
    const listPath = apiVersion ? `/openai/fine_tuning/jobs?api-version=${apiVersion}&limit=100` : '/openai/v1/fine_tuning/jobs?limit=100'
    const res = await fetch(`${endpoint}${listPath}`, { headers: { 'api-key': own.emu.apiKey } })
    const jobs = (await res.json()).data
    const live = jobs.filter((j: any) => j.status !== 'cancelled')
    expect(live.map((j: any) => j.id)).toEqual([results[0].model.jobId])
    expect(own.emu.stats().jobsCreated - own.emu.stats().jobsCancelled).toBe(1)
  }, 60000)
})

describe("Azure's file states", () => {
  // Files take a tenth of the job duration to be processed here: 500 ms, pending then running.
  const slow = useEmulator({ jobDurationMs: 5000 })

  test('are waited through, bounded by fileProcessingTimeoutMs; the next call waits for the same file', async () => {
    const endpoint = slow.emu.url.replace(/\/v1$/, '')
    const opts = { ...azure({ apiKey: slow.emu.apiKey, azureEndpoint: endpoint }), seed: 1 }
    const uploadsBefore = slow.emu.stats().requests['POST /openai/v1/files'] ?? 0
    const e = await rejection(trainAndRegisterFineTunedModel({ ...opts, fileProcessingTimeoutMs: 100 }))
    expect([e.code, e.param]).toEqual(['ERR_TIMEOUT', 'source'])
    expect(e.message).toMatch(/still "(pending|running)"/)
    expect(e.message).toContain('fileProcessingTimeoutMs')
    const m = await trainAndRegisterFineTunedModel(opts)
    expect(m.fineTunedModel).toMatch(/\.ft-/)
    expect((slow.emu.stats().requests['POST /openai/v1/files'] ?? 0) - uploadsBefore).toBe(1)
  }, 60000)
})
