import * as fs from 'node:fs'
import * as path from 'node:path'
import { startEmulator, trainAndRegisterFineTunedModel, type Emulator } from 'taskforce-fine-tune'
import { api, chatJsonl, counts, rejection, tempDir, writeFile, pipelineOptions, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

function base(extra: Record<string, unknown> = {}): any {
  return pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_knobs', ...extra })
}

function dpoJsonl(n: number): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        input: { messages: [{ role: 'user', content: `Tagline for product ${i}?` }] },
        preferred_output: [{ role: 'assistant', content: `Product ${i}: simply better.` }],
        non_preferred_output: [{ role: 'assistant', content: `It is product ${i}.` }],
      }),
    ).join('\n') + '\n'
  )
}

test('every supervised knob reaches the job as the API names it', async () => {
  const model = await trainAndRegisterFineTunedModel(
    base({
      hyperparameters: { nEpochs: 4, batchSize: 'auto', learningRateMultiplier: 0.5 },
      seed: 1234,
      metadata: { team: 'content', ticket: 'FT-9' },
      integrations: [{ type: 'wandb', wandb: { project: 'taglines', tags: ['v1'] } }],
    }),
  )
  const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  expect(job.method.type).toBe('supervised')
  expect(job.method.supervised.hyperparameters).toMatchObject({ n_epochs: 4, learning_rate_multiplier: 0.5 })
  expect(job.seed).toBe(1234)
  expect(job.metadata).toMatchObject({ team: 'content', ticket: 'FT-9', model_key: 'writer_knobs', agent_name: 'Writer' })
  expect(job.integrations[0]).toMatchObject({ type: 'wandb', wandb: { project: 'taglines', tags: ['v1'] } })
})

test('method dpo with beta is sent as the API method object', async () => {
  const model = await trainAndRegisterFineTunedModel(
    base({ source: writeFile(tmp.dir, 'dpo.jsonl', dpoJsonl(12)), method: 'dpo', hyperparameters: { beta: 0.2, nEpochs: 2 } }),
  )
  const job = await api(fx.emu.url, fx.emu.apiKey, `/fine_tuning/jobs/${model.jobId}`)
  expect(job.method.type).toBe('dpo')
  expect(job.method.dpo.hyperparameters).toMatchObject({ beta: 0.2, n_epochs: 2 })
})

test.each([
  [{ hyperparameters: { nEpochs: 0 } }, 'hyperparameters.nEpochs'],
  [{ hyperparameters: { nEpochs: 51 } }, 'hyperparameters.nEpochs'],
  [{ hyperparameters: { batchSize: 257 } }, 'hyperparameters.batchSize'],
  [{ hyperparameters: { learningRateMultiplier: 0 } }, 'hyperparameters.learningRateMultiplier'],
  [{ hyperparameters: { learningRateMultiplier: 11 } }, 'hyperparameters.learningRateMultiplier'],
  [{ hyperparameters: { nEpochs: 'many' } }, 'hyperparameters.nEpochs'],
  [{ hyperparameters: { beta: 0.1 } }, 'hyperparameters.beta'],
  [{ method: 'dpo', hyperparameters: { beta: 3 } }, 'hyperparameters.beta'],
  [{ method: 'reinforcement' }, 'method'],
  [{ seed: -1 }, 'seed'],
  [{ seed: 1.5 }, 'seed'],
  [{ metadata: Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
  [{ metadata: { model_key: 'mine' } }, 'metadata'],
  [{ metadata: { k: 1 } }, 'metadata.k'],
  [{ integrations: [{ type: 'slack' }] }, 'integrations[0].type'],
  [{ integrations: [{ type: 'wandb', wandb: {} }] }, 'integrations[0]'],
  [{ uploadPartBytes: 65 * 1024 * 1024 + 1 }, 'uploadPartBytes'],
])('%j is refused before upload, naming %s', async (extra, param) => {
  const before = await counts(fx.emu.url, fx.emu.apiKey)
  const err = await rejection(trainAndRegisterFineTunedModel(base(extra)))
  expect(err.code).toBe('ERR_INVALID_OPTION')
  expect(err.param).toBe(param)
  expect(err.message.length).toBeGreaterThan(10)
  expect(await counts(fx.emu.url, fx.emu.apiKey)).toEqual(before)
})
