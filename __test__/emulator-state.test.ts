import * as fs from 'node:fs'
import * as path from 'node:path'
import { startEmulator, trainAndRegisterFineTunedModel, type Emulator } from 'taskforce-fine-tune'
import { api, chatExample, pipelineOptions, tempDir } from './helpers'

// Every emulator started here, closed in afterAll (closing twice is harmless).
const started: Emulator[] = []
async function start(stateDir: string): Promise<Emulator> {
  const emu = await startEmulator({ stateDir, jobDurationMs: 400 })
  started.push(emu)
  return emu
}

const dirs: string[] = []
function dir(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

afterAll(async () => {
  for (const emu of started) await emu.close()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

test('files, jobs and a registered model survive a restart on the same stateDir', async () => {
  const work = dir()
  const stateDir = path.join(work, 'emulator-state')
  const first = await start(stateDir)
  const model = await trainAndRegisterFineTunedModel(pipelineOptions(first, work))
  await first.close()
  expect(fs.existsSync(path.join(stateDir, 'state.json'))).toBe(true)
  expect(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')).not.toContain(first.apiKey)

  const second = await start(stateDir)
  const files = await api(second.url, second.apiKey, '/files')
  expect(files.data.map((f: any) => f.id)).toContain(model.trainingFileId)

  const job = await api(second.url, second.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  expect(job.status).toBe('succeeded')
  expect(job.fine_tuned_model).toBe(model.fineTunedModel)

  // The model answers, with what it learned: a training prompt gets its training answer.
  const example = chatExample(3) as any
  const res = await fetch(`${second.url}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${second.apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: model.fineTunedModel, messages: example.messages.slice(0, 2) }),
  })
  expect(res.status).toBe(200)
  const answer = await res.json()
  expect(typeof answer.choices[0].message.content).toBe('string')
  // Seeded noise gives about 10 % of answers from the second-closest example.
  expect(answer.choices[0].message.content).toMatch(/^Product \d+: simply better\.$/)
  await second.close()
})

test('a corrupt or newer state file rejects the start with ERR_INVALID_OPTION', async () => {
  const stateDir = dir()
  fs.writeFileSync(path.join(stateDir, 'state.json'), '{ not json')
  await expect(startEmulator({ stateDir })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
    param: 'stateDir',
    message: expect.stringContaining('state.json'),
  })
  fs.writeFileSync(path.join(stateDir, 'state.json'), JSON.stringify({ format: 99, store: {} }))
  await expect(startEmulator({ stateDir })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
    message: expect.stringContaining('newer emulator'),
  })
})
