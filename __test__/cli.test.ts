import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ft from 'taskforce-fine-tune'
import { startEmulator, type Emulator } from 'taskforce-fine-tune'
import { api, chatJsonl, counts, tempDir, writeFile } from './helpers'
import { CLI, ROOT, childEnv, cli, jsonLines } from './cli-helpers'

const KEY = 'sk-cli-test-secret-4711'

/** Waits until `cond` holds. */
async function until(cond: () => boolean, ms = 20000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

let emu: Emulator
let dir: string
let registryPath: string
let source: string

beforeAll(async () => {
  emu = await startEmulator({ jobDurationMs: 400, apiKey: KEY })
})
afterAll(async () => {
  await emu.close()
})
beforeEach(() => {
  dir = tempDir()
  registryPath = path.join(dir, 'fine-tuned', 'models.json')
  source = writeFile(dir, 'train.jsonl', chatJsonl(12))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function conn(e: Emulator = emu): Record<string, string> {
  return { OPENAI_API_KEY: e.apiKey, OPENAI_BASE_URL: e.url }
}

function trainArgs(extra: string[] = [], modelKey = 'content_writer_v1'): string[] {
  return [
    'train',
    '--agent-name', 'Content Writer',
    '--model-key', modelKey,
    '--base-model', 'gpt-4o-mini-2024-07-18',
    '--source', source,
    '--registry-path', registryPath,
    '--poll-interval-ms', '50',
    ...extra,
  ]
}

describe('train', () => {
  test('piped: one plain line per event on stderr, the registered model on stdout, exit 0', async () => {
    const r = await cli(trainArgs(), conn())
    expect(r.stderr).not.toMatch(/error \[/)
    expect(r.code).toBe(0)

    const lines = r.stderr.trim().split('\n')
    expect(lines[0]).toMatch(/^data checked: source: 12 examples, 0 errors/)
    const size = `${(fs.statSync(source).size / 1024).toFixed(1)} KiB`
    expect(lines).toContainEqual(`uploading source (${size})`)
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^uploaded source: file-\\S+ \\(${size.replace('.', '\\.')}\\)$`)))
    expect(lines).toContainEqual(expect.stringMatching(/^job created: ftjob-\S+$/))
    expect(lines).toContainEqual('status: running')
    expect(lines).toContainEqual('status: succeeded')
    expect(lines).toContainEqual(expect.stringMatching(/^step \d+\/\d+  train loss \d/))
    expect(lines[lines.length - 1]).toMatch(/^registered content_writer_v1: ft:gpt-4o-mini-2024-07-18:\S+ in /)
    // Piped: no terminal control sequences.
    expect(r.stderr).not.toMatch(/\r|\x1b\[/)

    const registry = JSON.parse(fs.readFileSync(registryPath, 'utf8'))
    const entry = registry.content_writer_v1
    expect(entry.model.name).toMatch(/^ft:gpt-4o-mini-2024-07-18:/)
    expect(r.stdout).toContain('Registered content_writer_v1')
    expect(r.stdout).toMatch(new RegExp(`fineTunedModel +${entry.model.name.replace(/[.]/g, '\\.')}\\n`))
    expect(r.stdout).toMatch(new RegExp(`jobId +${entry.fineTune.jobId}\\n`))
    expect(r.stdout).toContain(`registry        ${registryPath}`)
    // The key is never printed.
    expect(r.stdout + r.stderr).not.toContain(KEY)
  })

  test('--json: every stdout line is JSON, events in order, then the result; knobs reach the job', async () => {
    const r = await cli(trainArgs(['--json', '--n-epochs', '2', '--batch-size', 'auto', '--seed', '7', '--metadata', 'team=writers', '--metadata', 'tier=gold']), conn())
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const events = jsonLines(r.stdout)
    const types = events.map((e) => e.type)
    const first = (t: string) => types.indexOf(t)
    expect(first('dataChecked')).toBe(0)
    expect(first('uploadStarted')).toBeGreaterThan(first('dataChecked'))
    expect(first('fileUploaded')).toBeGreaterThan(first('uploadStarted'))
    expect(first('jobCreated')).toBeGreaterThan(first('fileUploaded'))
    expect(first('status')).toBeGreaterThan(first('jobCreated'))
    expect(first('jobEvent')).toBeGreaterThan(first('jobCreated'))
    expect(types[types.length - 2]).toBe('registered')
    expect(types[types.length - 1]).toBe('result')
    expect(types.filter((t) => t === 'result')).toHaveLength(1)

    const result = events[events.length - 1]
    const registered = events[events.length - 2]
    expect(result).toMatchObject({
      type: 'result',
      modelKey: 'content_writer_v1',
      agentName: 'Content Writer',
      fineTunedModel: registered.fineTunedModel,
      registryPath,
    })
    expect(events.find((e) => e.type === 'jobCreated')).toMatchObject({ jobId: result.jobId, resumed: false })
    expect(events.filter((e) => e.type === 'status').pop().status).toBe('succeeded')
    expect(events.some((e) => e.type === 'jobEvent' && typeof e.step === 'number' && typeof e.trainLoss === 'number')).toBe(true)

    const job = await api(emu.url, emu.apiKey, `/fine_tuning/jobs/${result.jobId}`)
    expect(job.hyperparameters.n_epochs).toBe(2)
    expect(job.seed).toBe(7)
    expect(job.metadata).toMatchObject({ team: 'writers', tier: 'gold', model_key: 'content_writer_v1' })
  })

  test('--config: camelCase options from a file, paths relative to it, flags override', async () => {
    const cfgDir = path.join(dir, 'cfg')
    writeFile(cfgDir, 'data/train.jsonl', chatJsonl(12))
    const cfg = writeFile(
      cfgDir,
      'job.json',
      JSON.stringify({
        agentName: 'Config Agent',
        modelKey: 'from_config',
        baseModel: 'gpt-4o-mini-2024-07-18',
        source: 'data/train.jsonl',
        registryPath: 'registry/models.json',
        pollIntervalMs: 50,
        nEpochs: 3,
        hyperparameters: { batchSize: 2 },
        metadata: { origin: 'config' },
      }),
    )
    const r = await cli(['train', '--config', cfg, '--model-key', 'from_flag', '--metadata', 'extra=flag', '--json'], conn(), dir)
    expect(r.code).toBe(0)
    const result = jsonLines(r.stdout).pop()
    expect(result).toMatchObject({ type: 'result', modelKey: 'from_flag', agentName: 'Config Agent' })
    expect(result.registryPath).toBe(path.join(cfgDir, 'registry', 'models.json'))
    const job = await api(emu.url, emu.apiKey, `/fine_tuning/jobs/${result.jobId}`)
    expect(job.hyperparameters).toMatchObject({ n_epochs: 3, batch_size: 2 })
    expect(job.metadata).toMatchObject({ origin: 'config', extra: 'flag', model_key: 'from_flag' })

    const bad = writeFile(dir, 'bad.json', JSON.stringify({ modelKey: 'x', sourcePath: 'typo' }))
    const r2 = await cli(['train', '--config', bad], conn())
    expect(r2.code).toBe(2)
    expect(r2.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: --config .*unknown option "sourcePath"/m)
  })

  test('exit 2 for a missing option, a bad number and a duplicate modelKey', async () => {
    const missing = await cli(['train', '--model-key', 'k', '--registry-path', registryPath], conn())
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^error \[ERR_MISSING_OPTION\]: .*agentName/m)
    expect(missing.stderr).toContain('--agent-name')
    expect(missing.stdout).toBe('')

    const missingJson = await cli(['train', '--model-key', 'k', '--registry-path', registryPath, '--json'], conn())
    expect(missingJson.code).toBe(2)
    expect(jsonLines(missingJson.stdout)).toEqual([expect.objectContaining({ type: 'error', code: 'ERR_MISSING_OPTION' })])

    const badNumber = await cli(trainArgs(['--n-epochs', 'many']), conn())
    expect(badNumber.code).toBe(2)
    expect(badNumber.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: --n-epochs: "many" is not a number or "auto"/m)

    const outOfRange = await cli(trainArgs(['--n-epochs', '99']), conn())
    expect(outOfRange.code).toBe(2)
    expect(outOfRange.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: .*nEpochs/m)

    writeFile(dir, 'fine-tuned/models.json', JSON.stringify({
      content_writer_v1: { model: { name: 'ft:gpt-4o-mini-2024-07-18:o::x', provider: 'openai', supportsTools: true, maxContextTokens: 128000 } },
    }))
    const before = await counts(emu.url, emu.apiKey)
    const dup = await cli(trainArgs(), conn())
    expect(dup.code).toBe(2)
    expect(dup.stderr).toMatch(/^error \[ERR_DUPLICATE_MODEL_KEY\]: /m)
    expect(dup.stderr).toMatch(/--on-existing newVersion/)
    // Refused before anything was uploaded.
    expect(await counts(emu.url, emu.apiKey)).toEqual(before)
  })

  test('exit 3 for a wrong API key, and the key is not printed', async () => {
    const wrong = 'sk-wrong-key-000111'
    const r = await cli(trainArgs(['--json']), { OPENAI_API_KEY: wrong, OPENAI_BASE_URL: emu.url })
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/^error \[ERR_AUTHENTICATION\]: .*401/m)
    const last = jsonLines(r.stdout).pop()
    expect(last).toMatchObject({ type: 'error', code: 'ERR_AUTHENTICATION', status: 401 })
    expect(r.stdout + r.stderr).not.toContain(wrong)
  })

  test('exit 4 when the job fails', async () => {
    const failing = await startEmulator({ jobDurationMs: 300, faults: { failJobs: true } })
    try {
      const r = await cli(trainArgs(['--json']), conn(failing))
      expect(r.code).toBe(4)
      expect(r.stderr).toMatch(/^error \[ERR_JOB_FAILED\]: /m)
      const events = jsonLines(r.stdout)
      expect(events.some((e) => e.type === 'jobCreated')).toBe(true)
      expect(events[events.length - 1]).toMatchObject({ type: 'error', code: 'ERR_JOB_FAILED', jobId: expect.stringMatching(/^ftjob-/) })
      expect(fs.existsSync(registryPath) ? Object.keys(JSON.parse(fs.readFileSync(registryPath, 'utf8'))) : []).toEqual([])
    } finally {
      await failing.close()
    }
  })

  test('Ctrl-C aborts with 130 and keeps the job; status shows it; a second train resumes it; cancel', async () => {
    const slow = await startEmulator({ jobDurationMs: 60000, apiKey: KEY })
    try {
      const child = spawn(process.execPath, [CLI, ...trainArgs(['--poll-interval-ms', '100'], 'slow_key')], {
        cwd: ROOT,
        env: childEnv(conn(slow)),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
      await until(() => /^job created: ftjob-/m.test(stderr))
      const jobId = /^job created: (ftjob-\S+)/m.exec(stderr)![1]
      child.kill('SIGINT')
      expect(await exited).toBe(130)
      expect(stderr).toMatch(/SIGINT: aborting\. The job keeps running and stays journaled: run the same "fine-tune train" command again to resume it/)
      expect(stderr).toMatch(/^error \[ABORT_ERR\]: /m)

      // status: from the journal, and with a modelKey, the job's current status from the API.
      const all = await cli(['status', '--registry-path', registryPath], {})
      expect(all.code).toBe(0)
      expect(all.stdout).toMatch(/^slow_key$/m)
      expect(all.stdout).toMatch(new RegExp(`jobId +${jobId}`))
      expect(all.stdout).toMatch(/^ +startedAt +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m)
      const one = await cli(['status', 'slow_key', '--registry-path', registryPath, '--json'], conn(slow))
      expect(one.code).toBe(0)
      const [run] = JSON.parse(one.stdout)
      expect(run).toMatchObject({ modelKey: 'slow_key', jobId, job: { id: jobId } })
      expect(['validating_files', 'queued', 'running']).toContain(run.job.status)
      expect(one.stdout).not.toContain(KEY)

      // The same command resumes the same job (shown as resumed), until the timeout stops it.
      const again = await cli(trainArgs(['--poll-interval-ms', '100', '--timeout-ms', '300', '--json'], 'slow_key'), conn(slow))
      expect(again.code).toBe(3)
      const events = jsonLines(again.stdout)
      expect(events.find((e) => e.type === 'jobCreated')).toEqual({ type: 'jobCreated', jobId, resumed: true })
      expect(events.some((e) => e.type === 'uploadStarted')).toBe(false)
      expect(events[events.length - 1]).toMatchObject({ type: 'error', code: 'ERR_TIMEOUT' })

      const cancelled = await cli(['cancel', 'slow_key', '--registry-path', registryPath], conn(slow))
      expect(cancelled.code).toBe(0)
      expect(cancelled.stdout.trim()).toBe(`cancelled slow_key: job ${jobId}`)
      expect((await api(slow.url, slow.apiKey, `/fine_tuning/jobs/${jobId}`)).status).toBe('cancelled')
      const none = await cli(['status', '--registry-path', registryPath], {})
      expect(none.code).toBe(0)
      expect(none.stdout).toMatch(/^no runs in flight/)
    } finally {
      await slow.close()
    }
  })

  test('pause and resume a running job, with the connection as flags', async () => {
    const slow = await startEmulator({ jobDurationMs: 10000, apiKey: KEY })
    try {
      // A run in flight: its job created, then the call aborted (the job keeps running).
      const controller = new AbortController()
      let jobId = ''
      await ft
        .trainAndRegisterFineTunedModel({
          agentName: 'Writer', modelKey: 'paused_key', baseModel: 'gpt-4o-mini-2024-07-18', source, registryPath,
          apiKey: slow.apiKey, baseUrl: slow.url, pollIntervalMs: 50, signal: controller.signal,
          onProgress: (e: any) => {
            if (e.type === 'jobCreated') {
              jobId = e.jobId
              controller.abort()
            }
          },
        })
        .catch((e) => expect(e.code).toBe('ABORT_ERR'))
      // Only a running job can be paused: wait for it (a fifth of the job's duration).
      const deadline = Date.now() + 20000
      while ((await api(slow.url, slow.apiKey, `/fine_tuning/jobs/${jobId}`)).status !== 'running') {
        if (Date.now() > deadline) throw new Error('the job did not start running in time')
        await new Promise((r) => setTimeout(r, 50))
      }
      const flags = ['--registry-path', registryPath, '--api-key', slow.apiKey, '--base-url', slow.url]
      const paused = await cli(['pause', 'paused_key', ...flags])
      expect(paused.stderr).toBe('')
      expect(paused.stdout.trim()).toBe(`paused paused_key: job ${jobId} is paused`)
      expect((await api(slow.url, slow.apiKey, `/fine_tuning/jobs/${jobId}`)).status).toBe('paused')
      const resumed = await cli(['resume', 'paused_key', ...flags, '--json'])
      expect(resumed.stderr).toBe('')
      expect(JSON.parse(resumed.stdout)).toMatchObject({ type: 'resumed', modelKey: 'paused_key', job: { id: jobId } })
      expect((await api(slow.url, slow.apiKey, `/fine_tuning/jobs/${jobId}`)).status).toBe('running')
      // Without the flags (and no env), the core finds no key: exit 2, the key never printed.
      const noKey = await cli(['pause', 'paused_key', '--registry-path', registryPath, '--base-url', slow.url])
      expect(noKey.code).toBe(2)
      expect(noKey.stderr).toMatch(/^error \[ERR_MISSING_API_KEY\]: /m)
      expect((await cli(['cancel', 'paused_key', ...flags])).code).toBe(0)
    } finally {
      await slow.close()
    }
  })

  // `script` (util-linux) gives the CLI a terminal; the package targets Linux, where it is always there.
  test('in a terminal: a live progress line redrawn with \\r, then the model', async () => {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const command = [process.execPath, CLI, ...trainArgs([], 'tty_key')].map(quote).join(' ')
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: childEnv({ ...conn(), COLUMNS: '100' }), stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, out }))
    })
    expect(r.code).toBe(0)
    // Redrawn in place: carriage returns and erase-to-end-of-line, a bar with steps and the loss.
    expect(r.out).toMatch(/\r[^\n]*\x1b\[K/)
    expect(r.out).toMatch(/\ruploading source [█░]+ /)
    expect(r.out).toMatch(/\r(running|succeeded)  [█░]{24} step \d+\/\d+  loss \d/)
    expect(r.out).toMatch(/job created: ftjob-/)
    expect(r.out).toMatch(/Registered tty_key/)
    const entry = JSON.parse(fs.readFileSync(registryPath, 'utf8')).tty_key
    expect(r.out).toContain(entry.model.name)
  })
})

describe('registry commands', () => {
  function seedRegistry() {
    writeFile(dir, 'fine-tuned/models.json', JSON.stringify({
      writer_v1: {
        model: { name: 'ft:gpt-4o-mini-2024-07-18:acme:writer:aaa111', provider: 'openai', supportsTools: true, maxContextTokens: 128000 },
        fineTune: {
          agentName: 'Writer', baseModel: 'gpt-4o-mini-2024-07-18', jobId: 'ftjob-w1', finishedAt: '2026-01-01T00:00:00.123Z',
          lossCurve: 'writer_v1.svg', metrics: { finalTrainLoss: 0.21, steps: 108 },
        },
      },
      editor_v1: {
        model: { name: 'ft:gpt-4o-mini-2024-07-18:acme:editor:bbb222', provider: 'openai', supportsTools: true, maxContextTokens: 128000 },
        fineTune: { agentName: 'Editor', baseModel: 'gpt-4o-mini-2024-07-18', jobId: 'ftjob-e1' },
      },
    }))
    writeFile(dir, 'fine-tuned/writer_v1.svg', '<svg xmlns="http://www.w3.org/2000/svg"></svg>')
  }

  test('list: every model, one agent, and --json', async () => {
    seedRegistry()
    const all = await cli(['list', '--registry-path', registryPath])
    expect(all.code).toBe(0)
    const rows = all.stdout.trim().split('\n')
    expect(rows[0]).toMatch(/^MODEL KEY +MODEL +AGENT +FINISHED +STOPS ANSWERING$/)
    expect(rows.slice(1).map((l) => l.split(/ +/)[0])).toEqual(['writer_v1', 'editor_v1'])
    expect(rows[1]).toContain('ft:gpt-4o-mini-2024-07-18:acme:writer:aaa111')
    // Times in the one format: ISO 8601 to the second (the entry has milliseconds).
    expect(rows[1]).toMatch(/  2026-01-01T00:00:00Z  /)

    const one = await cli(['list', '--agent-name', 'Editor', '--registry-path', registryPath, '--json'])
    expect(one.code).toBe(0)
    expect(JSON.parse(one.stdout).map((e: any) => e.modelKey)).toEqual(['editor_v1'])

    // The registry path also comes from FINE_TUNED_MODELS_PATH.
    const env = await cli(['list', '--json'], { FINE_TUNED_MODELS_PATH: registryPath })
    expect(JSON.parse(env.stdout)).toHaveLength(2)

    const empty = await cli(['list', '--registry-path', path.join(dir, 'none', 'models.json')])
    expect(empty.code).toBe(0)
    expect(empty.stdout).toMatch(/^no models registered in /)
  })

  test('show: the entry, its metrics and its curve; unknown key exits 2', async () => {
    seedRegistry()
    const r = await cli(['show', 'writer_v1', '--registry-path', registryPath])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^writer_v1$/m)
    expect(r.stdout).toMatch(/model +ft:gpt-4o-mini-2024-07-18:acme:writer:aaa111/)
    expect(r.stdout).toMatch(/jobId +ftjob-w1/)
    expect(r.stdout).toMatch(/^metrics:\n +finalTrainLoss +0\.21\n +steps +108$/m)
    expect(r.stdout).toContain(`curve: ${path.join(dir, 'fine-tuned', 'writer_v1.svg')}`)

    const j = await cli(['show', 'editor_v1', '--registry-path', registryPath, '--json'])
    expect(j.code).toBe(0)
    const entry = JSON.parse(j.stdout)
    expect(entry).toMatchObject({ modelKey: 'editor_v1', model: { name: 'ft:gpt-4o-mini-2024-07-18:acme:editor:bbb222' }, registryPath })
    expect(entry.curvePath).toBeUndefined()

    const missing = await cli(['show', 'nope', '--registry-path', registryPath])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^error \[ERR_NOT_FOUND\]: modelKey "nope" is not registered/m)
  })

  test('cancel of a key with no run in flight exits 2 with ERR_NOT_FOUND', async () => {
    const r = await cli(['cancel', 'nope', '--registry-path', registryPath, '--json'], conn())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error \[ERR_NOT_FOUND\]: /m)
    expect(jsonLines(r.stdout)).toEqual([expect.objectContaining({ type: 'error', code: 'ERR_NOT_FOUND' })])
  })

  test('doctor passes --azure-endpoint and --api-version through: it asks Azure, not OpenAI', async () => {
    seedRegistry()
    const endpoint = emu.url.replace(/\/v1$/, '')
    // writer_v1 on Azure: its dates are Azure's; editor_v1 stays an OpenAI model, whose dates
    // Azure does not know (it is not asked).
    const reg = JSON.parse(fs.readFileSync(registryPath, 'utf8'))
    reg.writer_v1.model = { ...reg.writer_v1.model, name: 'gpt-4o-mini-2024-07-18.ft-0123456789abcdef0123456789abcdef', baseUrl: `${endpoint}/openai/v1` }
    fs.writeFileSync(registryPath, JSON.stringify(reg))
    const before = { ...emu.stats().requests }
    const r = await cli(['doctor', '--azure-endpoint', endpoint, '--api-version', '2024-10-21', '--api-key', KEY, '--registry-path', registryPath, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.models.map((m: any) => [m.modelKey, m.refreshed])).toEqual([['writer_v1', true], ['editor_v1', false]])
    const after = emu.stats().requests
    const used = Object.keys(after).filter((k) => after[k] !== (before[k] ?? 0))
    // Azure's models list (the emulator refuses an Azure route without api-version), never /v1.
    expect(used).toEqual(['GET /openai/models'])
    expect(r.stdout + r.stderr).not.toContain(KEY)
  })

  test('status of an unknown key exits 2; of a registered key says so', async () => {
    seedRegistry()
    const unknown = await cli(['status', 'nope', '--registry-path', registryPath])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^error \[ERR_NOT_FOUND\]: /m)
    const done = await cli(['status', 'writer_v1', '--registry-path', registryPath])
    expect(done.code).toBe(0)
    expect(done.stdout).toMatch(/^writer_v1: no run in flight; registered as ft:gpt-4o-mini-2024-07-18:acme:writer:aaa111/)
  })
})

describe('validate', () => {
  test('prints the report; exits 2 when the data has errors', async () => {
    expect(typeof ft.validateTrainingData).toBe('function')
    const good = await cli(['validate', source, '--base-model', 'gpt-4o-mini-2024-07-18'])
    expect(good.code).toBe(0)
    expect(good.stdout).toMatch(new RegExp(`^${source.replace(/[.]/g, '\\.')}: valid$`, 'm'))
    expect(good.stdout).toMatch(/examples +12/)

    const json = await cli(['validate', source, '--json'])
    expect(json.code).toBe(0)
    // 12 examples: OpenAI's default rounds up, ceil(100 / 12) = 9 epochs (as the emulator picks).
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, examples: 12, defaultEpochs: 9, epochs: 9 })

    const bad = writeFile(dir, 'bad.jsonl', '{"messages":[{"role":"bot","content":"x"}]}\nnot json\n')
    const r = await cli(['validate', bad])
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/: INVALID$/m)
    expect(r.stdout).toMatch(/^errors:\n {2}- invalid_json/m)
    expect(r.stderr).toMatch(/^error \[ERR_INVALID_TRAINING_DATA\]: /m)

    const none = await cli(['validate', path.join(dir, 'missing.jsonl')])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^error \[ERR_SOURCE_NOT_FOUND\]: /m)
  })

  test('says clearly when the package does not export validateTrainingData', async () => {
    // The CLI loads the package as `require('..')`: beside a stub package without the function.
    const pkg = path.join(dir, 'stub-package')
    writeFile(pkg, 'index.js', "module.exports = { listRegisteredModels: () => [] }\n")
    fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true })
    const r = await cli(['validate', source], {}, ROOT, path.join(pkg, 'bin', 'fine-tune.js'))
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error \[ERR_NOT_SUPPORTED\]: this build of taskforce-fine-tune does not export validateTrainingData/m)
  })
})

describe('usage and help', () => {
  test('train --help documents the pipeline flags', async () => {
    const r = await cli(['train', '--help'])
    for (const f of ['--agent-name', '--model-key', '--base-model', '--source', '--validation', '--suffix', '--api-key', '--base-url', '--registry-path', '--poll-interval-ms', '--timeout-ms', '--max-retries', '--n-epochs', '--batch-size', '--learning-rate-multiplier', '--method', '--beta', '--seed', '--metadata', '--cancel-on-abort', '--config', '--json']) {
      expect(r.stdout).toContain(f)
    }
  })

  test('an unknown command, an unknown flag, a missing argument: usage on stderr, exit 2', async () => {
    const cmd = await cli(['frobnicate'])
    expect(cmd.code).toBe(2)
    expect(cmd.stdout).toBe('')
    expect(cmd.stderr).toMatch(/^error \[ERR_USAGE\]: unknown command "frobnicate"/)
    expect(cmd.stderr).toMatch(/^Usage: fine-tune <command>/m)

    const flag = await cli(['list', '--bogus'])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/^error \[ERR_USAGE\]: .*'--bogus'/)
    expect(flag.stderr).toMatch(/^Usage: fine-tune list/m)

    const arg = await cli(['show'])
    expect(arg.code).toBe(2)
    expect(arg.stderr).toMatch(/^error \[ERR_USAGE\]: missing <modelKey>/)

    const extra = await cli(['list', 'extra'])
    expect(extra.code).toBe(2)
    expect(extra.stderr).toMatch(/^error \[ERR_USAGE\]: unexpected argument "extra"/)

    const nothing = await cli([])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toMatch(/^Usage: fine-tune <command>/m)
  })
})

test('emulate: prints its URL and key, serves the API, stops on SIGINT with exit 0', async () => {
  const child = spawn(process.execPath, [CLI, 'emulate', '--api-key', 'sk-cli-emulator', '--job-duration-ms', '100'], {
    cwd: ROOT,
    env: childEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  try {
    await until(() => /OPENAI_API_KEY=.*\n/.test(stdout))
    const url = /^OPENAI_BASE_URL=(http:\/\/127\.0\.0\.1:\d+\/v1)$/m.exec(stdout)![1]
    expect(stdout).toMatch(/^OPENAI_API_KEY=sk-cli-emulator$/m)

    const ok = await fetch(`${url}/files`, { headers: { Authorization: 'Bearer sk-cli-emulator' } })
    expect(ok.status).toBe(200)
    expect((await ok.json()).object).toBe('list')
    const refused = await fetch(`${url}/files`, { headers: { Authorization: 'Bearer sk-other' } })
    expect(refused.status).toBe(401)

    child.kill('SIGINT')
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(stderr).toMatch(/emulator stopped/)
    await expect(fetch(`${url}/files`, { headers: { Authorization: 'Bearer sk-cli-emulator' } })).rejects.toThrow()
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})

test('emulate: a port in use or out of range exits 2 with ERR_INVALID_OPTION', async () => {
  const port = new URL(emu.url).port
  const inUse = await cli(['emulate', '--port', port])
  expect(inUse.code).toBe(2)
  expect(inUse.stdout).toBe('')
  expect(inUse.stderr).toMatch(new RegExp(`^error \\[ERR_INVALID_OPTION\\]: option port: cannot listen on 127\\.0\\.0\\.1:${port}: `, 'm'))

  const outOfRange = await cli(['emulate', '--port', '70000', '--json'])
  expect(outOfRange.code).toBe(2)
  expect(jsonLines(outOfRange.stdout)).toEqual([expect.objectContaining({ type: 'error', code: 'ERR_INVALID_OPTION' })])
  expect(outOfRange.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: option port: must be a whole number from 0 to 65535, got 70000/m)
})
