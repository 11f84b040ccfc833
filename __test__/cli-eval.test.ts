// `fine-tune eval` as a CI gate (--require-better, --min-score: exit 6 when the verdict is not
// met), `train --evaluate --promote ifBetter` saying why a version was not promoted, and
// evaluation progress as lines of text when piped.
import * as path from 'node:path'
import { resolveModel, trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { cli, jsonLines } from './cli-helpers'
import { poemsJsonl, ticketsJsonl } from './eval-data'
import { pipelineOptions, useEmulator, useTempDir, writeFile } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

const env = () => ({ OPENAI_API_KEY: fx.emu.apiKey, OPENAI_BASE_URL: fx.emu.url })

function trainArgs(modelKey: string, source: string, registryPath: string, extra: string[] = []): string[] {
  return [
    'train', '--agent-name', 'Router', '--model-key', modelKey, '--base-model', 'gpt-4o-mini-2024-07-18',
    '--source', source, '--registry-path', registryPath, '--poll-interval-ms', '50', ...extra,
  ]
}

/** Piped human output is lines of text: no JSON object on any line, no terminal control. */
function expectText(s: string) {
  for (const line of s.split('\n')) expect(line).not.toMatch(/[{[]"/)
  expect(s).not.toMatch(/\r|\x1b\[/)
}

test('train --evaluate (a JSON object of settings), then a version that is not better: "not promoted" and why', async () => {
  const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
  const heldOut = writeFile(tmp.dir, 'held-out.jsonl', ticketsJsonl(24, 2))
  const tickets = writeFile(tmp.dir, 'tickets.jsonl', ticketsJsonl(60, 1))

  const first = await cli(
    trainArgs('router', tickets, registryPath, ['--validation', heldOut, '--evaluate', '{"graders":["toolCalls","exact"],"maxExamples":16}']),
    env(),
  )
  expect(first.stderr).not.toMatch(/^error/m)
  expect(first.code).toBe(0)
  // Piped progress, the evaluation's included: lines of text.
  expectText(first.stderr)
  const lines = first.stderr.trim().split('\n')
  expect(lines).toContainEqual(expect.stringMatching(/^evaluating ft:gpt-4o-mini-2024-07-18:\S+ against gpt-4o-mini-2024-07-18: 16 examples, 32 requests, ~\d+ tokens, /))
  expect(lines).toContainEqual('evaluation: requests 32/32')
  expect(lines.filter((l) => l.startsWith('evaluation: requests')).length).toBeLessThanOrEqual(11)
  expect(lines).toContainEqual(expect.stringMatching(/^evaluated: better \(toolCalls difference \+\d/))
  const firstModel = resolveModel('router', { registryPath })
  expect(first.stdout).toMatch(/^ +evaluation +better than gpt-4o-mini-2024-07-18: toolCalls 1 vs 0, 95% CI \[/m)
  expect(first.stdout).toMatch(/^ +promoted +yes$/m)
  expect(first.stdout).not.toContain('not promoted')

  // Unrelated data, --promote ifBetter: registered as a version, not current, and the reason.
  const poems = writeFile(tmp.dir, 'poems.jsonl', poemsJsonl(30))
  const second = await cli(
    trainArgs('router', poems, registryPath, ['--on-existing', 'newVersion', '--evaluate', `{"data":${JSON.stringify(heldOut)}}`, '--promote', 'ifBetter']),
    env(),
  )
  expect(second.stderr).not.toMatch(/^error/m)
  expect(second.code).toBe(0)
  expectText(second.stderr)
  expectText(second.stdout)
  expect(resolveModel('router', { registryPath })).toBe(firstModel)
  const fineTuned = /^ +fineTunedModel +(\S+)$/m.exec(second.stdout)![1]
  expect(fineTuned).not.toBe(firstModel)
  expect(second.stdout).toMatch(/^ +promoted +no$/m)
  expect(second.stdout).toMatch(
    new RegExp(`^not promoted: not better than ${firstModel.replace(/[.]/g, '\\.')}: toolCalls difference -\\d[\\d.]*, 95% CI \\[-?[\\d.]+, -?[\\d.]+\\] does not lie above 0$`, 'm'),
  )
  expect(second.stdout).toContain(`router still resolves to ${firstModel}`)
  expect(second.stdout).toContain(`fine-tune promote router ${fineTuned}`)
  // The summary is the run's own (its metrics), not the current version's.
  expect(second.stdout).toMatch(/^  metrics:$/m)

  // --json: the result says the same.
  const versions = await cli(['versions', 'router', '--registry-path', registryPath, '--json'])
  expect(JSON.parse(versions.stdout).map((v: any) => [v.model.name, v.current])).toEqual([[firstModel, true], [fineTuned, false]])
})

describe('eval as a CI gate', () => {
  let registryPath = ''
  let heldOut = ''
  beforeEach(async () => {
    heldOut = writeFile(tmp.dir, 'held-out.jsonl', ticketsJsonl(16, 4))
    const base = pipelineOptions(fx.emu, tmp.dir)
    registryPath = base.registryPath
    // A model that learned the task, and one trained on unrelated data.
    await trainAndRegisterFineTunedModel({ ...base, modelKey: 'router', source: writeFile(tmp.dir, 't.jsonl', ticketsJsonl(60, 3)) })
    await trainAndRegisterFineTunedModel({ ...base, modelKey: 'poet', source: writeFile(tmp.dir, 'p.jsonl', poemsJsonl(30)) })
  })

  const evalArgs = (modelKey: string, extra: string[] = []) => ['eval', modelKey, '--data', heldOut, '--registry-path', registryPath, ...extra]

  test('--require-better: exit 0 when better, 6 when not; without it, 0 either way', async () => {
    const better = await cli(evalArgs('router', ['--require-better']), env())
    expect(better.stderr).not.toMatch(/^error/m)
    expect(better.code).toBe(0)
    expect(better.stdout).toMatch(/^better: yes /m)
    expect(better.stdout).toMatch(/^verdict: met$/m)
    // Piped progress: lines of text on stderr.
    expectText(better.stderr)
    expect(better.stderr.trim().split('\n')).toContainEqual('evaluation: requests 32/32')

    const notBetter = await cli(evalArgs('poet', ['--require-better']), env())
    expect(notBetter.code).toBe(6)
    expect(notBetter.stdout).toMatch(/^better: no /m)
    expect(notBetter.stdout).toMatch(/^verdict: NOT MET: not better than gpt-4o-mini-2024-07-18: \S+ [\d.]+ vs [\d.]+ \(.+\)$/m)
    expect(notBetter.stderr).not.toMatch(/^error/m)

    const ungated = await cli(evalArgs('poet'), env())
    expect(ungated.code).toBe(0)
    expect(ungated.stdout).not.toMatch(/^verdict:/m)

    const json = await cli(evalArgs('poet', ['--require-better', '--json']), env())
    expect(json.code).toBe(6)
    const result = jsonLines(json.stdout).pop()
    expect(result).toMatchObject({ type: 'result', better: false, verdict: { met: false, failures: [expect.stringMatching(/^not better than /)] } })
  })

  test('--min-score GRADER=X: exit 6 below it, 0 at or above; its grader is added to --grader', async () => {
    const pass = await cli(evalArgs('router', ['--grader', 'exact', '--min-score', 'toolCalls=0.5', '--json']), env())
    expect(pass.code).toBe(0)
    const report = jsonLines(pass.stdout).pop()
    expect(report.graders.map((g: any) => g.name).sort()).toEqual(['exact', 'toolCalls'])
    expect(report.verdict).toEqual({ met: true, failures: [] })

    const fail = await cli(evalArgs('poet', ['--min-score', 'toolCalls=0.5', '--min-score', 'exact=0']), env())
    expect(fail.code).toBe(6)
    expect(fail.stdout).toMatch(/^verdict: NOT MET: toolCalls 0 is below --min-score toolCalls=0\.5$/m)
    // exact applies to no example of tool-call data: it has no score to hold to a minimum, even 0.
    expect(fail.stdout).toMatch(/^verdict: NOT MET: exact applied to none of the examples, so it has no score to hold to --min-score exact=0$/m)
    expect(fail.stdout.match(/^verdict: /gm)).toHaveLength(2)
  })

  test('a bad --min-score is refused (exit 2) before any request', async () => {
    const before = fx.emu.stats().chatCompletions
    for (const [arg, message] of [
      ['bogus=0.5', /--min-score: "bogus" is not one of exact, /],
      ['exact=1.5', /--min-score exact=1\.5: a score is from 0 to 1/],
      ['exact', /--min-score "exact": expected KEY=VALUE/],
      ['exact=high', /--min-score: "high" is not a number/],
    ] as [string, RegExp][]) {
      const r = await cli(evalArgs('router', ['--min-score', arg]), env())
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: /m)
      expect(r.stderr).toMatch(message)
    }
    expect(fx.emu.stats().chatCompletions).toBe(before)
  })
})
