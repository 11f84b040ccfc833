// One source of truth for the options: the core's list (`fineTuneOptions()`), the TypeScript
// declaration, the CLI's flags and --config keys, and the run's digest all agree.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  cancelFineTune,
  fineTuneOptions,
  getFineTuneJob,
  trainAndRegisterFineTunedModel,
} from 'taskforce-fine-tune'
import { pipelineOptions, rejection, useEmulator, useTempDir, writeFile, chatJsonl } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 60_000 })
const CLI = path.join(__dirname, '..', 'bin', 'fine-tune.js')

/** The field names of `export interface NAME { … }` in index.d.ts. */
function declaredFields(name: string): string[] {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  const start = dts.indexOf(`export interface ${name} {`)
  expect(start).toBeGreaterThanOrEqual(0)
  const body = dts.slice(start, dts.indexOf('\n}\n', start))
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err as any).code : 0, stdout, stderr }),
    )
  })
}

const flagOf = (name: string) => name.split('.').pop()!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

test('the TypeScript declaration lists exactly the options the core reads', () => {
  const specs = fineTuneOptions()
  const top = [...new Set(specs.map((s) => s.name.split('.')[0]))]
  // FineTuneOptions extends ConnectionOptions (types/header.d.ts): its fields and those.
  const declaredTop = [...declaredFields('FineTuneOptions'), ...declaredFields('ConnectionOptions')]
  expect(declaredTop.sort()).toEqual([...top, 'signal', 'onProgress', 'azureToken'].sort())
  const hyper = specs.filter((s) => s.name.startsWith('hyperparameters.')).map((s) => s.name.split('.')[1])
  expect(declaredFields('HyperparameterOptions').sort()).toEqual(hyper.sort())
  expect(specs.filter((s) => s.required).map((s) => s.name)).toEqual(['agentName', 'modelKey', 'baseModel', 'source'])
})

test('an unknown option is refused, naming it, before anything is sent', async () => {
  const before = fx.emu.stats().requestsTotal
  const err = await rejection(trainAndRegisterFineTunedModel({ ...pipelineOptions(fx.emu, tmp.dir), nEpoch: 3 } as any))
  expect(err.code).toBe('ERR_INVALID_OPTION')
  expect(err.param).toBe('nEpoch')
  expect(fx.emu.stats().requestsTotal).toBe(before)
})

test('the CLI has a flag and a --config key for every option', async () => {
  const help = await cli(['train', '--help'])
  expect(help.code).toBe(0)
  for (const s of fineTuneOptions()) expect(help.stdout).toContain(`--${flagOf(s.name)}`)

  // Every option in --config (valid values), against a key that is already registered: the
  // CLI and the core accept them all, and the run stops at the duplicate key.
  const registryPath = writeFile(tmp.dir, 'fine-tuned/models.json', JSON.stringify({ taken: { model: { name: 'gpt-4o' } } }))
  const values: Record<string, unknown> = {
    agentName: 'Writer', modelKey: 'taken', baseModel: 'gpt-4o-mini-2024-07-18',
    source: writeFile(tmp.dir, 'train.jsonl', chatJsonl(12)), validation: writeFile(tmp.dir, 'valid.jsonl', chatJsonl(12)),
    suffix: 'w', apiKey: fx.emu.apiKey, baseUrl: fx.emu.url, organization: 'org-1', project: 'proj-1',
    azureEndpoint: 'https://res.openai.azure.com', apiVersion: '2024-10-21', registryPath,
    pollIntervalMs: 50, timeoutMs: 1000, fileProcessingTimeoutMs: 60000, maxRetries: 1, cancelOnAbort: true, method: 'dpo', seed: 1,
    metadata: { team: 'a' }, integrations: [{ type: 'wandb', wandb: { project: 'p' } }],
    maxDownloadBytes: 1e6, downloadIdleTimeoutMs: 60000, downloadMinBytesPerSecond: 1024, uploadThresholdBytes: 2000, uploadPartBytes: 1000,
    azureDeployment: { subscriptionId: 's', resourceGroup: 'g', resourceName: 'r', sku: 'Developer' },
    'hyperparameters.nEpochs': 2, 'hyperparameters.batchSize': 'auto', 'hyperparameters.learningRateMultiplier': 0.5,
    'hyperparameters.beta': 0.1,
    onExisting: 'error', evaluate: { graders: ['exact'] }, promote: 'ifBetter', validationSplit: 0.1,
  }
  const cfg: any = { hyperparameters: {} }
  for (const s of fineTuneOptions()) {
    expect(Object.keys(values)).toContain(s.name) // a new option needs a value here
    if (s.name.startsWith('hyperparameters.')) cfg.hyperparameters[s.name.split('.')[1]] = values[s.name]
    else cfg[s.name] = values[s.name]
  }
  const config = writeFile(tmp.dir, 'job.json', JSON.stringify(cfg))
  const run = await cli(['train', '--config', config, '--json'])
  expect(run.stderr).toContain('ERR_DUPLICATE_MODEL_KEY')
  expect(run.code).toBe(2)
})

test('each option that makes the job refuses to resume an interrupted run; getFineTuneJob reads its job', async () => {
  const opts = pipelineOptions(fx.emu, tmp.dir)
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
  expect(err.code).toBe('ABORT_ERR')
  expect(jobId).toMatch(/^ftjob-/)

  const root = fx.emu.url.replace(/\/v1$/, '')
  const changes: Record<string, Record<string, unknown>> = {
    agentName: { agentName: 'Editor' },
    baseModel: { baseModel: 'gpt-4.1-mini-2025-04-14' },
    source: { source: writeFile(tmp.dir, 'other.jsonl', chatJsonl(12)) },
    validation: { validation: writeFile(tmp.dir, 'valid.jsonl', chatJsonl(12)) },
    suffix: { suffix: 'other' },
    baseUrl: { baseUrl: fx.emu.url.replace('127.0.0.1', 'localhost') },
    organization: { organization: 'org-other' },
    project: { project: 'proj-other' },
    azureEndpoint: { baseUrl: undefined, azureEndpoint: root },
    'hyperparameters.nEpochs': { hyperparameters: { nEpochs: 2 } },
    'hyperparameters.batchSize': { hyperparameters: { batchSize: 4 } },
    'hyperparameters.learningRateMultiplier': { hyperparameters: { learningRateMultiplier: 0.5 } },
    'hyperparameters.beta': { method: 'dpo', hyperparameters: { beta: 0.5 } },
    method: { method: 'dpo' },
    seed: { seed: 7 },
    metadata: { metadata: { team: 'x' } },
    integrations: { integrations: [{ type: 'wandb', wandb: { project: 'p' } }] },
    validationSplit: { validationSplit: 0.2 },
  }
  const before = fx.emu.stats()
  for (const spec of fineTuneOptions().filter((s) => s.affectsJob && s.name !== 'modelKey')) {
    expect(Object.keys(changes)).toContain(spec.name) // a new job option needs a change here
    const e = await rejection(trainAndRegisterFineTunedModel({ ...opts, ...changes[spec.name] }))
    expect([spec.name, e.code]).toEqual([spec.name, 'ERR_MODEL_KEY_IN_PROGRESS'])
  }
  // Knobs that do not change the job resume it (here: the live job is read, not recreated).
  const after = fx.emu.stats()
  expect(after.filesCreated).toBe(before.filesCreated)
  expect(after.jobsCreated).toBe(before.jobsCreated)

  const byKey = await getFineTuneJob('writer_v1', { registryPath: opts.registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url })
  expect(byKey.id).toBe(jobId)
  expect(['validating_files', 'queued', 'running']).toContain(byKey.status)
  const byId = await getFineTuneJob(jobId, { registryPath: opts.registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url })
  expect(byId.id).toBe(jobId)
  expect((await rejection(getFineTuneJob('nobody', { registryPath: opts.registryPath, apiKey: fx.emu.apiKey }))).code).toBe('ERR_NOT_FOUND')
  expect(await cancelFineTune('writer_v1', { registryPath: opts.registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url })).toBe(jobId)
})

test("getFineTuneJob of an Azure run asks the run's own API, with its header and api-version", async () => {
  const root = fx.emu.url.replace(/\/v1$/, '')
  const { apiKey, baseUrl, ...rest } = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'azure_v1' })
  const controller = new AbortController()
  const err = await rejection(
    trainAndRegisterFineTunedModel({
      ...rest,
      apiKey,
      azureEndpoint: root,
      apiVersion: '2024-10-21',
      signal: controller.signal,
      onProgress: (e: any) => e.type === 'jobCreated' && controller.abort(),
    }),
  )
  expect(err.code).toBe('ABORT_ERR')
  const before = fx.emu.stats().requests
  const job = await getFineTuneJob('azure_v1', { registryPath: rest.registryPath, apiKey })
  const after = fx.emu.stats().requests
  const grew = Object.keys(after).filter((k) => (after[k] ?? 0) > (before[k] ?? 0))
  expect(grew).toHaveLength(1)
  expect(grew[0]).toMatch(/^GET \/openai\/fine_tuning\/jobs\/[^/]+$/)
  expect(job.id).toMatch(/^ftjob-/)
  await cancelFineTune('azure_v1', { registryPath: rest.registryPath, apiKey, azureEndpoint: root })
})
