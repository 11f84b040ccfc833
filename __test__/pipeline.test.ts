import * as fs from 'node:fs'
import * as path from 'node:path'
import { startEmulator, trainAndRegisterFineTunedModel, type Emulator } from 'taskforce-fine-tune'
import { api, chatJsonl, runChild, serve, tempDir, writeFile, pipelineOptions, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 400 })

function base(extra: Record<string, unknown> = {}): any {
  return pipelineOptions(fx.emu, tmp.dir, { agentName: 'Content Writer', modelKey: 'content_writer_v1', ...extra })
}

test('fine-tunes, registers a TaskForce-shaped entry and resolves to the registered model', async () => {
  const opts = base()
  const model = await trainAndRegisterFineTunedModel(opts)

  expect(model.modelKey).toBe('content_writer_v1')
  expect(model.agentName).toBe('Content Writer')
  expect(model.baseModel).toBe('gpt-4o-mini-2024-07-18')
  expect(model.suffix).toBe('content-writer')
  expect(model.fineTunedModel).toMatch(/^ft:gpt-4o-mini-2024-07-18:[^:]+:content-writer:[A-Za-z0-9]+$/)
  expect(model.jobId).toMatch(/^ftjob-/)
  expect(model.trainingFileId).toMatch(/^file-/)
  expect(model.validationFileId ?? null).toBeNull()
  expect(new Date(model.createdAt).getTime()).toBeLessThanOrEqual(new Date(model.finishedAt).getTime())
  expect(model.registryPath).toBe(opts.registryPath)

  const registry = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8'))
  expect(Object.keys(registry)).toEqual(['content_writer_v1'])
  const entry = registry.content_writer_v1
  expect(entry.model).toEqual({
    name: model.fineTunedModel,
    provider: 'openai',
    supportsTools: true,
    maxContextTokens: 128000,
  })
  expect(entry.fineTune).toMatchObject({
    agentName: 'Content Writer',
    baseModel: 'gpt-4o-mini-2024-07-18',
    jobId: model.jobId,
    trainingFileId: model.trainingFileId,
    suffix: 'content-writer',
    createdAt: model.createdAt,
    finishedAt: model.finishedAt,
  })
  expect(fs.readFileSync(opts.registryPath, 'utf8')).not.toContain(fx.emu.apiKey)

  // The job the emulator ran is the one registered, with our metadata.
  const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  expect(job.status).toBe('succeeded')
  expect(job.fine_tuned_model).toBe(model.fineTunedModel)
  expect(job.metadata).toMatchObject({ model_key: 'content_writer_v1', agent_name: 'Content Writer' })
  expect(job.suffix ?? job.user_provided_suffix).toBe('content-writer')

  // Finished runs leave no journal behind.
  const runs = path.join(tmp.dir, 'fine-tuned', '.runs')
  expect(fs.existsSync(runs) ? fs.readdirSync(runs).filter((f) => f.endsWith('.json')) : []).toEqual([])
})

test('uploads and uses a validation file', async () => {
  const validation = writeFile(tmp.dir, 'valid.jsonl', chatJsonl(10))
  const model = await trainAndRegisterFineTunedModel(base({ validation, suffix: 'cw.v2' }))
  expect(model.validationFileId).toMatch(/^file-/)
  expect(model.suffix).toBe('cw.v2')
  const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  expect(job.validation_file).toBe(model.validationFileId)
  const file = await api(fx.emu.url, fx.emu.apiKey, `/files/${model.validationFileId}`)
  expect(file.purpose).toBe('fine-tune')
  // Uploaded under a name unique to the run, so that a lost upload answer is found exactly.
  expect(file.filename).toMatch(/^ft-[0-9a-f]+-valid-ik[0-9a-f]+-valid\.jsonl$/)
})

test('reads a URL source, streamed to a temporary file that is removed afterwards', async () => {
  const body = chatJsonl(15)
  const server = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jsonl' })
    res.end(body)
  })
  try {
    const model = await trainAndRegisterFineTunedModel(base({ source: `${server.url}/data/train.jsonl` }))
    const content = await fetch(`${fx.emu.url}/files/${model.trainingFileId}/content`, {
      headers: { Authorization: `Bearer ${fx.emu.apiKey}` },
    }).then((r) => r.text())
    expect(content).toBe(body)
    const runs = path.join(tmp.dir, 'fine-tuned', '.runs')
    const leftovers = fs.existsSync(runs) ? fs.readdirSync(runs).filter((f) => f.startsWith('.download-')) : []
    expect(leftovers).toEqual([])
  } finally {
    await server.close()
  }
})

test('keeps the entries already registered, byte for byte in value', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  const existing = {
    older_model: { model: { name: 'ft:gpt-3.5-turbo:acme::x1', provider: 'openai', supportsTools: false, maxContextTokens: 4096 }, note: 'keep me' },
  }
  writeFile(tmp.dir, 'fine-tuned/models.json', JSON.stringify(existing))
  await trainAndRegisterFineTunedModel(base({ registryPath }))
  const registry = JSON.parse(fs.readFileSync(registryPath, 'utf8'))
  expect(Object.keys(registry)).toEqual(['older_model', 'content_writer_v1'])
  expect(registry.older_model).toEqual(existing.older_model)
})

test('two pipelines registering different keys at once both land', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  const [a, b] = await Promise.all([
    trainAndRegisterFineTunedModel(base({ modelKey: 'a', registryPath })),
    trainAndRegisterFineTunedModel(base({ modelKey: 'b', registryPath, agentName: 'Other Agent' })),
  ])
  const registry = JSON.parse(fs.readFileSync(registryPath, 'utf8'))
  expect(Object.keys(registry).sort()).toEqual(['a', 'b'])
  expect(registry.a.model.name).toBe(a.fineTunedModel)
  expect(registry.b.model.name).toBe(b.fineTunedModel)
  expect(a.jobId).not.toBe(b.jobId)
})

test('falls back to OPENAI_API_KEY / OPENAI_BASE_URL / FINE_TUNED_MODELS_PATH', async () => {
  const registryPath = path.join(tmp.dir, 'env', 'models.json')
  const { apiKey, baseUrl, registryPath: _r, ...rest } = base()
  const { done } = runChild(rest, {
    OPENAI_API_KEY: fx.emu.apiKey,
    OPENAI_BASE_URL: fx.emu.url,
    FINE_TUNED_MODELS_PATH: registryPath,
  })
  const { result } = await done
  expect(result).toMatchObject({ ok: true })
  expect(result.model.registryPath).toBe(registryPath)
  expect(JSON.parse(fs.readFileSync(registryPath, 'utf8'))[result.model.modelKey].model.name).toBe(result.model.fineTunedModel)
})

test('stores a metrics summary and draws the loss curve as SVG beside the registry', async () => {
  const opts = base({ modelKey: 'curve_model' })
  const model = await trainAndRegisterFineTunedModel(opts)
  const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  const csv = await fetch(`${fx.emu.url}/files/${job.result_files[0]}/content`, {
    headers: { Authorization: `Bearer ${fx.emu.apiKey}` },
  }).then((r) => r.text())
  const rows = csv.trim().split('\n').slice(1).map((l) => l.split(','))
  const header = csv.split('\n')[0].split(',')
  const trainLoss = rows.map((r) => r[header.indexOf('train_loss')]).filter((v) => v !== '').map(Number)

  expect(model.metrics!.steps).toBe(Number(rows[rows.length - 1][0]))
  expect(model.metrics!.finalTrainLoss).toBeCloseTo(trainLoss[trainLoss.length - 1], 6)
  expect(model.metrics!.bestTrainLoss).toBeCloseTo(Math.min(...trainLoss), 6)
  expect(model.curvePath).toBe(path.join(tmp.dir, 'fine-tuned', 'curve_model.svg'))
  const svg = fs.readFileSync(model.curvePath!, 'utf8')
  expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"')
  const points = /<polyline[^>]*class="train-loss"[^>]*points="([^"]*)"/.exec(svg) ?? /<polyline[^>]*points="([^"]*)"[^>]*class="train-loss"/.exec(svg)
  expect(points![1].trim().split(/\s+/)).toHaveLength(trainLoss.length)
  const entry = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8')).curve_model
  expect(entry.fineTune.metrics.finalTrainLoss).toBeCloseTo(model.metrics!.finalTrainLoss!, 6)
  expect(entry.fineTune.lossCurve).toBe('curve_model.svg')
})
