// Versions of a modelKey: newVersion, promote, rollback, remove (with and without deleting the
// remote models) and import, in the registry shape TaskForce's loader reads.
import * as fs from 'node:fs'
import {
  importFineTuneJob,
  listModelVersions,
  promoteModelVersion,
  removeRegisteredModel,
  resolveModel,
  rollbackModel,
  trainAndRegisterFineTunedModel,
} from 'taskforce-fine-tune'
import { api, chatJsonl, pipelineOptions, rejection, useEmulator, useTempDir, waitFor, writeFile } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

/** What TaskForce's loader does with a modelKey: `models.json[key].model`. */
function taskForceModel(registryPath: string, key: string): any {
  return JSON.parse(fs.readFileSync(registryPath, 'utf8'))[key]?.model
}

async function modelExists(name: string): Promise<boolean> {
  const res = await fetch(`${fx.emu.url}/models/${name}`, { headers: { Authorization: `Bearer ${fx.emu.apiKey}` } })
  return res.ok
}

async function threeVersions() {
  const opts = pipelineOptions(fx.emu, tmp.dir)
  writeFile(tmp.dir, 'fine-tuned/models.json', JSON.stringify({ other: { model: { name: 'gpt-4o', provider: 'openai' }, note: 'kept' } }))
  const a = await trainAndRegisterFineTunedModel(opts)
  const dup = await rejection(trainAndRegisterFineTunedModel(opts))
  expect(dup.code).toBe('ERR_DUPLICATE_MODEL_KEY')
  const b = await trainAndRegisterFineTunedModel({ ...opts, onExisting: 'newVersion', suffix: 'b' })
  const c = await trainAndRegisterFineTunedModel({ ...opts, onExisting: 'newVersion', suffix: 'c' })
  return { opts, models: [a, b, c].map((m) => m.fineTunedModel), results: [a, b, c] }
}

test('newVersion keeps every version; promote and rollback move the key; TaskForce reads the current one', async () => {
  const { opts, models, results } = await threeVersions()
  const reg = { registryPath: opts.registryPath }
  expect(results[2].previousModel).toBe(models[1])
  expect(new Set(models).size).toBe(3)
  expect(resolveModel('writer_v1', reg)).toBe(models[2])
  const loaded = taskForceModel(opts.registryPath, 'writer_v1')
  expect(loaded).toEqual({ name: models[2], provider: 'openai', supportsTools: true, maxContextTokens: 128000 })
  expect(JSON.parse(fs.readFileSync(opts.registryPath, 'utf8')).other).toEqual({ model: { name: 'gpt-4o', provider: 'openai' }, note: 'kept' })

  const versions = listModelVersions('writer_v1', reg)
  expect(versions.map((v) => v.model.name)).toEqual(models)
  expect(versions.map((v) => v.current)).toEqual([false, false, true])
  expect(versions[0].jobId).toBe(results[0].jobId)
  expect(versions[0].baseModel).toBe('gpt-4o-mini-2024-07-18')

  expect(await promoteModelVersion('writer_v1', models[0], reg)).toBe(models[2])
  expect(taskForceModel(opts.registryPath, 'writer_v1').name).toBe(models[0])
  expect(await rollbackModel('writer_v1', reg)).toBe(models[2])
  expect(await rollbackModel('writer_v1', reg)).toBe(models[1])
  expect(await rollbackModel('writer_v1', reg)).toBe(models[0])
  await expect(rollbackModel('writer_v1', reg)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  await expect(promoteModelVersion('writer_v1', 'ft:nope', reg)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  expect((() => { try { listModelVersions('nobody', reg) } catch (e: any) { return e.code } })()).toBe('ERR_NOT_FOUND')
})

test('remove drops the entry and keeps the remote models; with deleteRemote it deletes them too', async () => {
  const { opts, models } = await threeVersions()
  const conn = { registryPath: opts.registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url }
  const kept = await removeRegisteredModel('writer_v1', { registryPath: opts.registryPath })
  expect(kept).toEqual({ modelKey: 'writer_v1', models, deletedRemote: [] })
  expect(taskForceModel(opts.registryPath, 'writer_v1')).toBeUndefined()
  for (const m of models) expect(await modelExists(m)).toBe(true)
  expect((await rejection(removeRegisteredModel('writer_v1', conn))).code).toBe('ERR_NOT_FOUND')

  // Register the same models again under another key, then delete them remotely.
  const again = await trainAndRegisterFineTunedModel({ ...opts, modelKey: 'writer_v2' })
  const before = fx.emu.stats().requests['DELETE /v1/models/{model}'] ?? 0
  const gone = await removeRegisteredModel('writer_v2', { ...conn, deleteRemote: true })
  expect(gone.deletedRemote).toEqual([again.fineTunedModel])
  expect(fx.emu.stats().requests['DELETE /v1/models/{model}']).toBe(before + 1)
  expect(await modelExists(again.fineTunedModel)).toBe(false)
  expect(JSON.parse(fs.readFileSync(opts.registryPath, 'utf8')).other.note).toBe('kept')
})

async function startJob(examples: number, registryDir: string): Promise<string> {
  const form = new FormData()
  form.append('purpose', 'fine-tune')
  form.append('file', new Blob([chatJsonl(examples)]), 'train.jsonl')
  const headers = { Authorization: `Bearer ${fx.emu.apiKey}` }
  const file: any = await (await fetch(`${fx.emu.url}/files`, { method: 'POST', headers, body: form })).json()
  const job: any = await (
    await fetch(`${fx.emu.url}/fine_tuning/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini-2024-07-18', training_file: file.id, suffix: 'elsewhere' }),
    })
  ).json()
  void registryDir
  return job.id
}

function waitFinal(id: string): Promise<any> {
  return waitFor(
    async () => {
      const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${id}`)
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) && job
    },
    20_000,
    `job ${id} final`,
    50,
  )
}

test('importFineTuneJob registers a job started elsewhere and refuses one that is running or failed', async () => {
  const registryPath = `${tmp.dir}/fine-tuned/models.json`
  const conn = { registryPath, apiKey: fx.emu.apiKey, baseUrl: fx.emu.url }
  const running = await startJob(12, tmp.dir)
  const early = await rejection(importFineTuneJob(running, { ...conn, agentName: 'Writer', modelKey: 'imported' }))
  expect(early.code).toBe('ERR_JOB_NOT_FINISHED')
  expect(early.jobId).toBe(running)
  expect(early.message).toMatch(/is (validating_files|queued|running)/)
  const job = await waitFinal(running)
  const m = await importFineTuneJob(running, { ...conn, agentName: 'Writer', modelKey: 'imported' })
  expect(m.fineTunedModel).toBe(job.fine_tuned_model)
  expect(m.jobId).toBe(running)
  expect(m.promoted).toBe(true)
  expect(taskForceModel(registryPath, 'imported').name).toBe(job.fine_tuned_model)
  expect(listModelVersions('imported', { registryPath })[0].jobId).toBe(running)
  const dup = await rejection(importFineTuneJob(running, { ...conn, agentName: 'Writer', modelKey: 'imported' }))
  expect(dup.code).toBe('ERR_DUPLICATE_MODEL_KEY')

  const failed = await startJob(3, tmp.dir)
  await waitFinal(failed)
  const err = await rejection(importFineTuneJob(failed, { ...conn, agentName: 'Writer', modelKey: 'broken' }))
  expect(err.code).toBe('ERR_JOB_FAILED')
  expect(err.message).toContain('failed')
  expect(taskForceModel(registryPath, 'broken')).toBeUndefined()
})
