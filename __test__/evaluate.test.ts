// "Is the new model better?": evaluations against the emulator, whose fine-tuned models answer
// like models that learned their training data.
import * as fs from 'node:fs'
import {
  evaluateModel,
  listModelVersions,
  resolveModel,
  trainAndRegisterFineTunedModel,
} from 'taskforce-fine-tune'
import { pipelineOptions, rejection, useEmulator, useTempDir, writeFile } from './helpers'
import { poemsJsonl, ticketsJsonl } from './eval-data'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

function conn(registryPath: string) {
  return { apiKey: fx.emu.apiKey, baseUrl: fx.emu.url, registryPath }
}

test('a model trained on the task beats its base on held-out examples; one trained on unrelated data does not, and ifBetter keeps the current model', async () => {
  const train = writeFile(tmp.dir, 'tickets.jsonl', ticketsJsonl(60, 1))
  const heldOut = writeFile(tmp.dir, 'held-out.jsonl', ticketsJsonl(40, 2))
  const opts = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'router', source: train, validation: heldOut })
  const events: any[] = []
  const first = await trainAndRegisterFineTunedModel({ ...opts, evaluate: true, onProgress: (e: any) => events.push(e) })
  expect(first.promoted).toBe(true)
  expect(first.evaluationError ?? null).toBeNull()
  const ev = first.evaluation!
  expect(ev.baseline).toBe('gpt-4o-mini-2024-07-18')
  expect(ev.candidate).toBe(first.fineTunedModel)
  expect(ev.primaryGrader).toBe('toolCalls')
  expect(ev.better).toBe(true)
  const calls = ev.graders.find((g) => g.name === 'toolCalls')!
  expect(calls.examples).toBe(40)
  expect(calls.candidateMean).toBeGreaterThan(0.8)
  expect(calls.baselineMean).toBe(0)
  expect(calls.ciLow).toBeGreaterThan(0)
  expect(calls.wins + calls.ties + calls.losses).toBe(40)
  const types = events.map((e) => e.type)
  expect(types.indexOf('evaluationStarted')).toBeLessThan(types.indexOf('evaluationProgress'))
  expect(types.indexOf('evaluationFinished')).toBeLessThan(types.indexOf('registered'))
  // The summary is in the registry entry.
  const raw = JSON.parse(fs.readFileSync(opts.registryPath, 'utf8'))
  expect(raw.router.fineTune.evaluation.better).toBe(true)

  // Unrelated data: no gain, so the key keeps resolving to the first model.
  const second = await trainAndRegisterFineTunedModel({
    ...opts,
    source: writeFile(tmp.dir, 'poems.jsonl', poemsJsonl(30)),
    onExisting: 'newVersion',
    evaluate: { data: heldOut },
    promote: 'ifBetter',
  })
  expect(second.evaluation!.baseline).toBe(first.fineTunedModel)
  expect(second.evaluation!.better).toBe(false)
  expect(second.promoted).toBe(false)
  expect(second.previousModel).toBe(first.fineTunedModel)
  expect(resolveModel('router', { registryPath: opts.registryPath })).toBe(first.fineTunedModel)
  const versions = listModelVersions('router', { registryPath: opts.registryPath })
  expect(versions.map((v) => [v.model.name, v.current])).toEqual([
    [first.fineTunedModel, true],
    [second.fineTunedModel, false],
  ])
  expect((versions[1].evaluation as any).better).toBe(false)

  // The same unrelated model against its own base: ties everywhere, not better.
  const own = await evaluateModel({ ...conn(opts.registryPath), model: second.fineTunedModel, data: heldOut })
  expect(own.baseline).toBe('gpt-4o-mini-2024-07-18')
  expect(own.better).toBe(false)
  for (const g of own.graders) expect(g.ties).toBe(g.examples)
})

test('evaluateModel reports every grader, tokens, cost and an answers file; maxCostUsd refuses before any request', async () => {
  const train = writeFile(tmp.dir, 'tickets.jsonl', ticketsJsonl(60, 3))
  const heldOut = writeFile(tmp.dir, 'held-out.jsonl', ticketsJsonl(24, 4))
  const opts = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'router2', source: train })
  const model = await trainAndRegisterFineTunedModel(opts)
  const events: any[] = []
  const report = await evaluateModel({
    ...conn(opts.registryPath),
    modelKey: 'router2',
    data: heldOut,
    graders: ['exact', 'toolCalls', 'similarity', 'contains', 'json', 'judge'],
    concurrency: 4,
    seed: 7,
    onProgress: (e: any) => events.push(e),
  })
  expect(report.candidate).toBe(model.fineTunedModel)
  expect(report.modelKey).toBe('router2')
  expect(report.examples).toBe(24)
  expect(report.graders.map((g) => g.name)).toEqual(['exact', 'toolCalls', 'similarity', 'contains', 'json', 'judge'])
  const judge = report.graders.find((g) => g.name === 'judge')!
  expect(judge.examples).toBe(24)
  expect(judge.candidateMean).toBeGreaterThan(judge.baselineMean)
  expect(report.usage.candidatePromptTokens).toBeGreaterThan(0)
  expect(report.usage.judgePromptTokens).toBeGreaterThan(0)
  expect(report.estimatedCostUsd).toBeGreaterThan(0)
  expect(report.costUsd).toBeGreaterThan(0)
  const started = events.find((e) => e.type === 'evaluationStarted')
  expect(started.estimatedCostUsd).toBe(report.estimatedCostUsd)
  expect(events.at(-1).type).toBe('evaluationFinished')
  const lines = fs.readFileSync(report.outputPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  expect(lines).toHaveLength(24)
  expect(lines[0].reference.toolCalls[0].name).toBe('route_ticket')
  expect(lines[0].scores.toolCalls).toEqual({ candidate: expect.any(Number), baseline: 0 })
  // Seeded: the same call gives the same interval.
  const again = await evaluateModel({ ...conn(opts.registryPath), modelKey: 'router2', data: heldOut, seed: 7 })
  const a = report.graders.find((g) => g.name === 'toolCalls')!
  const b = again.graders.find((g) => g.name === 'toolCalls')!
  expect([b.ciLow, b.ciHigh]).toEqual([a.ciLow, a.ciHigh])

  const before = fx.emu.stats().chatCompletions
  const err = await rejection(evaluateModel({ ...conn(opts.registryPath), modelKey: 'router2', data: heldOut, maxCostUsd: 1e-9, cache: false }))
  expect(err.code).toBe('ERR_COST_LIMIT')
  expect(err.param).toBe('maxCostUsd')
  expect(fx.emu.stats().chatCompletions).toBe(before)
  const bad = await rejection(evaluateModel({ ...conn(opts.registryPath), modelKey: 'router2', data: heldOut, graders: ['bleu' as any] }))
  expect([bad.code, bad.param]).toEqual(['ERR_INVALID_OPTION', 'graders'])
  const typo = await rejection(evaluateModel({ ...conn(opts.registryPath), modelKey: 'router2', grader: ['exact'] } as any))
  expect([typo.code, typo.param]).toEqual(['ERR_INVALID_OPTION', 'grader'])
})

test('validationSplit holds out data that the evaluation then uses; an evaluation can be aborted', async () => {
  const opts = pipelineOptions(fx.emu, tmp.dir, {
    modelKey: 'split',
    source: writeFile(tmp.dir, 'tickets.jsonl', ticketsJsonl(120, 5)),
    validationSplit: 0.25,
    seed: 3,
  })
  const checked: string[] = []
  const m = await trainAndRegisterFineTunedModel({
    ...opts,
    evaluate: true,
    onProgress: (e: any) => e.type === 'dataChecked' && checked.push(e.file),
  })
  expect(checked).toEqual(['source', 'validation'])
  expect(m.validationFileId).toMatch(/^file-/)
  expect(m.evaluation!.data).toBe(m.validationFileId)
  expect(m.evaluation!.examples).toBeGreaterThan(10)
  expect(m.evaluation!.examples).toBeLessThan(60)
  expect(m.evaluation!.better).toBe(true)

  // Without data, evaluateModel reads the entry's validation file back from the API.
  const controller = new AbortController()
  const err = await rejection(
    evaluateModel({
      ...conn(opts.registryPath),
      modelKey: 'split',
      // The pipeline's evaluation kept these answers: ask again, so that there is something to abort.
      cache: false,
      concurrency: 1,
      signal: controller.signal,
      onProgress: (e: any) => e.type === 'evaluationProgress' && controller.abort(),
    }),
  )
  expect(err.code).toBe('ABORT_ERR')
})
