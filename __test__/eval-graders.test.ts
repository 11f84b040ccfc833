// evaluateModel (issues 19 and 20): graders written in JavaScript, verdicts that small samples
// cannot fake, answers reused by a rerun, a partial report, and the JUnit XML report.
//
// The models are base models, whose emulator answer is `[<model>] <last user message>`: the
// reference of every even example is exactly the candidate's answer.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { evaluateModel, startEmulator, type EvaluateOptions, type EvaluationReport } from 'taskforce-fine-tune'
import { rejection, useEmulator, useTempDir, writeFile } from './helpers'

const CANDIDATE = 'gpt-4o-mini-2024-07-18'
const BASELINE = 'gpt-4.1-mini-2025-04-14'

const tmp = useTempDir()
const fx = useEmulator()

function dataJsonl(n: number): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: `Question ${i}` },
          { role: 'assistant', content: i % 2 === 0 ? `[${CANDIDATE}] Question ${i}` : `Answer ${i}` },
        ],
      }),
    ).join('\n') + '\n'
  )
}

function options(extra: Partial<EvaluateOptions> = {}, n = 12, emu = fx.emu): EvaluateOptions {
  return {
    apiKey: emu.apiKey,
    baseUrl: emu.url,
    registryPath: path.join(tmp.dir, 'fine-tuned', 'models.json'),
    model: CANDIDATE,
    baseline: BASELINE,
    data: writeFile(tmp.dir, 'held-out.jsonl', dataJsonl(n)),
    ...extra,
  }
}

const grader = (r: EvaluationReport, name: string) => r.graders.find((g) => g.name === name)!

test('graders in JavaScript: sync, async, bound to their object; a throw, a rejection or a non-number is reported per answer', async () => {
  const seen: any[] = []
  const mine = {
    name: 'mine',
    grade(answer: any, example: any) {
      seen.push({ answer, example })
      return answer.content === example.reference.content ? 1 : 0
    },
  }
  const weighted = {
    name: 'weighted',
    weight: 0.25,
    async grade(this: { weight: number }) {
      await new Promise((r) => setImmediate(r))
      return this.weight
    },
  }
  const throws = { name: 'throws', grade: (_a: any, e: any) => { if (e.line === 3) throw new Error('boom'); return 1 } }
  const rejects = { name: 'rejects', grade: async (_a: any, e: any) => { if (e.line === 5) throw new Error('late boom'); return 1 } }
  const words = { name: 'words', grade: () => 'high' as any }
  const big = { name: 'big', grade: () => 2 }
  const r = await evaluateModel(options({ graders: ['exact', mine, weighted, throws, rejects, words, big], primaryGrader: 'mine' }))

  expect(r.primaryGrader).toBe('mine')
  expect(r.graders.map((g) => g.name)).toEqual(['exact', 'mine', 'weighted', 'throws', 'rejects', 'words', 'big'])
  // The grader saw the answers and examples, and agrees with `exact`.
  expect(seen).toHaveLength(24)
  const first = seen.find((s) => s.example.line === 1 && s.answer.content.startsWith(`[${CANDIDATE}]`))
  expect(first.answer).toEqual({ content: `[${CANDIDATE}] Question 0`, toolCalls: [] })
  expect(first.example).toEqual({
    line: 1,
    prompt: [{ role: 'user', content: 'Question 0' }],
    reference: { content: `[${CANDIDATE}] Question 0`, toolCalls: [] },
    tools: null,
  })
  const { name: _n, minScore: _m, ...exactScores } = grader(r, 'exact')
  const { name: _n2, minScore: _m2, ...mineScores } = grader(r, 'mine')
  expect(mineScores).toEqual(exactScores)
  expect(r.better).toBe(true)
  expect(grader(r, 'weighted')).toMatchObject({ examples: 12, candidateMean: 0.25, baselineMean: 0.25, ties: 12, errors: 0 })
  // Errors: both answers of the example, left out of the grader's pairs; the others are scored.
  expect(grader(r, 'throws')).toMatchObject({ examples: 11, errors: 2 })
  expect(grader(r, 'rejects')).toMatchObject({ examples: 11, errors: 2 })
  expect(grader(r, 'words')).toMatchObject({ examples: 0, errors: 24 })
  expect(grader(r, 'big')).toMatchObject({ examples: 0, errors: 24 })
  const errors = (name: string) => r.graderErrors.filter((e) => e.grader === name)
  expect(errors('throws')).toEqual([
    { grader: 'throws', line: 3, model: 'candidate', message: expect.stringMatching(/^threw: .*boom/) },
    { grader: 'throws', line: 3, model: 'baseline', message: expect.stringMatching(/^threw: .*boom/) },
  ])
  expect(errors('rejects').map((e) => e.message)).toEqual([expect.stringMatching(/^rejected: .*late boom/), expect.stringMatching(/late boom/)])
  expect(r.graderErrors.length).toBe(20) // listed up to 20; `errors` counts them all
  expect(errors('words')[0].message).toBe('returned the string "high", not a number')
  expect(errors('big')).toEqual([]) // counted, not listed

  // Bad grader objects are refused before any request.
  const before = fx.emu.stats().chatCompletions
  for (const [graders, message] of [
    [[{ name: 'exact', grade: () => 1 }], /built-in grader's name/],
    [[{ name: 'x' }], /needs a function grade/],
    [[{ grade: () => 1 }], /needs a string name/],
    [[{ name: 'x', grade: () => 1 }, { name: 'x', grade: () => 1 }], /two graders are named "x"/],
    [[42], /expected a grader name or a \{ name, grade \} object, got a Number/i],
  ] as [any[], RegExp][]) {
    const e = await rejection(evaluateModel(options({ graders })))
    expect([e.code, e.param]).toEqual(['ERR_INVALID_OPTION', 'graders'])
    expect(e.message).toMatch(message)
  }
  expect(fx.emu.stats().chatCompletions).toBe(before)
})

test('small samples give no verdict: one example, or five won of five (sign test p = 0.0625)', async () => {
  const always = { name: 'always', grade: (a: any) => (a.content.startsWith(`[${CANDIDATE}]`) ? 1 : 0) }
  const one = await evaluateModel(options({ graders: [always], maxExamples: 1 }))
  expect(grader(one, 'always')).toMatchObject({ examples: 1, wins: 1, ciLow: 1, ciHigh: 1 })
  expect(one.better).toBe(false)
  expect(one.reason).toBe('only 1 paired example for always; a verdict needs at least 10')
  expect(one.verdictMethod).toMatch(/exact two-sided sign test/)

  const five = await evaluateModel(options({ graders: [always], maxExamples: 5 }))
  expect(grader(five, 'always')).toMatchObject({ wins: 5, losses: 0 })
  expect(grader(five, 'always').pValue).toBeCloseTo(0.0625, 12)
  expect(five.better).toBe(false)

  const twelve = await evaluateModel(options({ graders: [always] }))
  expect(grader(twelve, 'always').pValue).toBeCloseTo(2 / 4096, 12)
  expect(twelve.better).toBe(true)
  expect(twelve.reason ?? null).toBeNull()
})

test('a rerun with the same settings sends no request; cache: false asks again', async () => {
  const o = options({ graders: ['exact', 'similarity'], concurrency: 4 })
  const start = fx.emu.stats().chatCompletions
  const first = await evaluateModel(o)
  expect(fx.emu.stats().chatCompletions - start).toBe(24)
  expect([first.newAnswers, first.reusedAnswers]).toEqual([24, 0])
  expect(first.cacheDir).toBe(path.join(tmp.dir, 'fine-tuned', '.eval-cache'))
  expect(fs.readdirSync(first.cacheDir!).sort()).toEqual([expect.stringMatching(/^gpt-4\.1-mini-2025-04-14-[0-9a-f]{8}\.jsonl$/), expect.stringMatching(/^gpt-4o-mini-2024-07-18-[0-9a-f]{8}\.jsonl$/)])

  const again = await evaluateModel(o)
  expect(fx.emu.stats().chatCompletions - start).toBe(24)
  expect([again.newAnswers, again.reusedAnswers, again.costUsd, again.usage.totalTokens]).toEqual([0, 24, 0, 0])
  expect(again.graders).toEqual(first.graders)

  const fresh = await evaluateModel({ ...o, cache: false })
  expect(fx.emu.stats().chatCompletions - start).toBe(48)
  expect([fresh.newAnswers, fresh.reusedAnswers]).toEqual([24, 0])
  expect(fresh.graders).toEqual(first.graders)
})

test('a run that cannot finish resolves with what it has (partial), and the next call resumes', async () => {
  const emu = await startEmulator({ faults: { seed: 4, rate: 0.3, kinds: ['quota'], endpoints: ['chat.completions'] } })
  try {
    const o = options({ graders: ['exact'], concurrency: 1 }, 16, emu)
    const reports: EvaluationReport[] = []
    for (let i = 0; i < 40; i++) {
      const r = await evaluateModel(o).catch((e) => {
        expect(e.code).toBe('ERR_QUOTA')
        return null
      })
      if (r) reports.push(r)
      if (r && !r.partial) break
    }
    const partial = reports.find((r) => r.partial)!
    expect(partial).toBeDefined()
    expect(partial.better).toBe(false)
    expect(partial.answered).toBeLessThan(16)
    expect(partial.reason).toMatch(/^partial evaluation: \d+ of 16 examples answered; a request failed: ERR_QUOTA: /)
    const done = reports.at(-1)!
    expect(done.partial).toBe(false)
    expect(done.answered).toBe(16)
    // No answer paid for twice.
    expect(emu.stats().chatCompletions).toBe(32)
  } finally {
    await emu.close()
  }
})

test('junitPath: a JUnit XML report, one testcase per grader, failures below minScores and when not better', async () => {
  const junitPath = path.join(tmp.dir, 'reports', 'eval.xml')
  const r = await evaluateModel(
    options({ graders: ['exact', 'similarity', 'contains'], primaryGrader: 'exact', maxExamples: 5, minScores: { similarity: 0.99, contains: 0.5 }, junitPath }),
  )
  expect(r.junitPath).toBe(junitPath)
  expect(r.better).toBe(false)
  const xml = fs.readFileSync(junitPath, 'utf8')
  expect(XMLValidator.validate(xml)).toBe(true)
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testcase', 'property', 'failure'].includes(name) }).parse(xml)
  const suites = doc.testsuites
  expect([suites.tests, suites.failures, suites.errors]).toEqual(['3', '2', '0'])
  const suite = suites.testsuite
  expect(suite.name).toBe(`${CANDIDATE} vs ${BASELINE}`)
  const props = Object.fromEntries(suite.properties.property.map((p: any) => [p.name, p.value]))
  expect(props).toMatchObject({ candidate: CANDIDATE, baseline: BASELINE, examples: '5', better: 'false', primaryGrader: 'exact' })
  const cases = Object.fromEntries(suite.testcase.map((c: any) => [c.name, c]))
  expect(Object.keys(cases)).toEqual(['exact', 'similarity', 'contains'])
  expect(cases.exact.failure[0].type).toBe('NotBetter')
  expect(cases.exact.failure[0].message).toBe(`not better than ${BASELINE}: ${r.reason}`)
  expect(cases.similarity.failure[0].message).toMatch(/^similarity 0\.\d{3} is below minScore 0\.99$/)
  expect(cases.contains.failure).toBeUndefined()
  expect(cases.contains['system-out']).toMatch(/^5 examples: candidate /)
})
