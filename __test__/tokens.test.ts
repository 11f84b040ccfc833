// Token counts agree with OpenAI's tiktoken (its npm build, which bundles the vocabularies), counted
// the way OpenAI's data-preparation cookbook counts them, on a generated corpus of real-looking
// prose, code and unicode.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { get_encoding, type Tiktoken } from 'tiktoken'
import { validateTrainingData } from 'taskforce-fine-tune'
import { tempDir } from './helpers'

let dir: string
let file: string
let examples: any[][]

beforeAll(() => {
  dir = tempDir()
  const raw = path.join(dir, 'raw.jsonl')
  execFileSync(process.execPath, [path.join(__dirname, '..', 'bench', 'gen-dataset.js'), raw, '3', '5'])
  // The cookbook's count covers string-valued keys only: keep examples without tools or weights.
  const plain = fs
    .readFileSync(raw, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter(
      (ex) =>
        !ex.tools &&
        !ex.functions &&
        ex.messages.every((m: any) => Object.entries(m).every(([k, v]) => ['role', 'content', 'name'].includes(k) && typeof v === 'string')),
    )
  examples = plain.map((ex) => ex.messages)
  file = path.join(dir, 'plain.jsonl')
  fs.writeFileSync(file, plain.map((ex) => JSON.stringify(ex)).join('\n') + '\n')
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function cookbook(enc: Tiktoken, messages: any[]): { total: number; assistant: number } {
  let total = 0
  let assistant = 0
  for (const m of messages) {
    total += 3
    for (const [k, v] of Object.entries(m)) {
      total += enc.encode(v as string).length
      if (k === 'name') total += 1
    }
    if (m.role === 'assistant') assistant += enc.encode(m.content).length
  }
  return { total: total + 3, assistant }
}

test.each([
  ['gpt-4o-mini-2024-07-18', 'o200k_base'],
  ['gpt-3.5-turbo-0125', 'cl100k_base'],
] as const)('%s: every example counted exactly as tiktoken counts it (%s)', async (model, encoding) => {
  expect(examples.length).toBeGreaterThan(500)
  const enc = get_encoding(encoding)
  try {
    const counts = examples.map((m) => cookbook(enc, m))
    const totals = counts.map((c) => c.total)
    const report = await validateTrainingData(file, { baseModel: model })
    expect(report.encoding).toBe(encoding)
    expect(report.tokens.countedExamples).toBe(examples.length)
    expect(report.tokens.total).toBe(totals.reduce((a, b) => a + b, 0))
    expect(report.tokens.min).toBe(Math.min(...totals))
    expect(report.tokens.max).toBe(Math.max(...totals))
    expect(report.tokens.assistantTotal).toBe(counts.reduce((a, c) => a + c.assistant, 0))
  } finally {
    enc.free()
  }
})
