import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  getRegisteredModel,
  listRegisteredModels,
  resolveModel,
  startEmulator,
  trainAndRegisterFineTunedModel,
  type Emulator,
} from 'taskforce-fine-tune'
import { chatJsonl, rejection, tempDir, writeFile, pipelineOptions, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 600, apiKey: 'sk-emu-secret-4242' })

function base(extra: Record<string, unknown> = {}): any {
  return pipelineOptions(fx.emu, tmp.dir, { ...extra })
}

test('progress events arrive in order, and a throwing callback does not break the run', async () => {
  const events: any[] = []
  const model = await trainAndRegisterFineTunedModel(
    base({
      onProgress: (e: any) => {
        events.push(e)
        throw new Error('a broken progress callback')
      },
    }),
  )
  // Every event has been delivered when the promise settles: no waiting.
  const types = events.map((e) => e.type)
  const first = (t: string) => types.indexOf(t)
  expect(first('dataChecked')).toBe(0)
  expect(first('uploadStarted')).toBeGreaterThan(first('dataChecked'))
  expect(first('fileUploaded')).toBeGreaterThan(first('uploadStarted'))
  expect(first('jobCreated')).toBeGreaterThan(first('fileUploaded'))
  const uploads = events.filter((e) => e.type === 'uploadProgress')
  expect(first('uploadProgress')).toBeGreaterThan(first('uploadStarted'))
  expect(first('uploadProgress')).toBeLessThan(first('fileUploaded'))
  const size = events.find((e) => e.type === 'uploadStarted').bytes
  expect(uploads[uploads.length - 1]).toMatchObject({ file: 'source', sent: size, total: size })
  expect(first('status')).toBeGreaterThan(first('jobCreated'))
  expect(types[types.length - 1]).toBe('registered')
  expect(events.find((e) => e.type === 'jobCreated').jobId).toBe(model.jobId)
  const statuses = events.filter((e) => e.type === 'status').map((e) => e.status)
  expect(statuses[statuses.length - 1]).toBe('succeeded')
  // The job's events come before the final status they lead to.
  const succeeded = events.findIndex((e) => e.type === 'status' && e.status === 'succeeded')
  const lastStep = events.map((e) => e.type === 'jobEvent' && typeof e.step === 'number').lastIndexOf(true)
  expect(lastStep).toBeGreaterThan(0)
  expect(lastStep).toBeLessThan(succeeded)
  expect(events.find((e) => e.type === 'dataChecked').report.examples).toBe(12)
  const jobEvents = events.filter((e) => e.type === 'jobEvent')
  expect(jobEvents.length).toBeGreaterThan(0)
  // Oldest first, each once.
  const ids = jobEvents.map((e) => e.eventId)
  expect(new Set(ids).size).toBe(ids.length)
  const times = jobEvents.map((e) => e.createdAt)
  expect([...times].sort((a, b) => a - b)).toEqual(times)
})

test('the registry API sees a model the moment it is registered', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  writeFile(tmp.dir, 'fine-tuned/models.json', JSON.stringify({ hand_made: { model: { name: 'gpt-4o', provider: 'openai', supportsTools: true, maxContextTokens: 128000 } } }))
  expect(getRegisteredModel('writer_v1', { registryPath })).toBeNull()
  const model = await trainAndRegisterFineTunedModel(base())
  const entry = getRegisteredModel('writer_v1', { registryPath })!
  expect(entry.modelKey).toBe('writer_v1')
  expect(entry.model).toEqual({ name: model.fineTunedModel, provider: 'openai', supportsTools: true, maxContextTokens: 128000 })
  expect(entry.fineTune).toMatchObject({ agentName: 'Writer', jobId: model.jobId })
  expect(listRegisteredModels({ registryPath }).map((e) => e.modelKey)).toEqual(['hand_made', 'writer_v1'])
  expect(listRegisteredModels({ registryPath, agentName: 'Writer' }).map((e) => e.modelKey)).toEqual(['writer_v1'])
  expect(resolveModel('writer_v1', { registryPath })).toBe(model.fineTunedModel)
  expect(resolveModel('gpt-4o-mini', { registryPath })).toBe('gpt-4o-mini')
})

test('a corrupt registry is reported by the registry API with its code', () => {
  const registryPath = writeFile(tmp.dir, 'fine-tuned/models.json', 'not json')
  let err: any
  try {
    listRegisteredModels({ registryPath })
  } catch (e) {
    err = e
  }
  expect(err?.code).toBe('ERR_REGISTRY_CORRUPT')
})

test('the API key appears in no error, journal, registry or event', async () => {
  const seen: string[] = []
  const opts = base({ onProgress: (e: any) => seen.push(JSON.stringify(e)) })
  await trainAndRegisterFineTunedModel(opts)
  const errors = [
    await rejection(trainAndRegisterFineTunedModel(opts)), // duplicate
    await rejection(trainAndRegisterFineTunedModel({ ...opts, modelKey: 'x', baseUrl: 'http://127.0.0.1:9/v1', maxRetries: 0 })),
    await rejection(trainAndRegisterFineTunedModel({ ...opts, modelKey: 'y', apiKey: fx.emu.apiKey + 'x' })),
  ]
  const files: string[] = []
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name)
      if (f.isDirectory()) walk(p)
      else files.push(fs.readFileSync(p, 'utf8'))
    }
  }
  walk(tmp.dir)
  const haystack = [...seen, ...files, ...errors.map((e) => `${e.message} ${JSON.stringify(e)} ${e.stack}`)].join('\n')
  expect(errors.map((e) => e.code)).toEqual(['ERR_DUPLICATE_MODEL_KEY', 'ERR_NETWORK', 'ERR_AUTHENTICATION'])
  expect(haystack).not.toContain('sk-emu-secret-4242')
})

test('a TaskForce-style agent uses the modelKey: resolveModel gives the ft: id, which the emulator serves', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  await trainAndRegisterFineTunedModel(base())
  // What an agent whose `model` is the modelKey does: resolve it, then call chat completions.
  const model = resolveModel('writer_v1', { registryPath })
  const res = await fetch(`${fx.emu.url}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${fx.emu.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Write a tagline.' }] }),
  })
  expect(res.status).toBe(200)
  const body = await res.json()
  expect(body.model).toBe(model)
  expect(typeof body.choices[0].message.content).toBe('string')
  const unknown = await fetch(`${fx.emu.url}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${fx.emu.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'ft:gpt-4o-mini-2024-07-18:org-x::nope1234', messages: [{ role: 'user', content: 'hi' }] }),
  })
  expect(unknown.status).toBe(404)
  expect((await unknown.json()).error.code).toBe('model_not_found')
})
