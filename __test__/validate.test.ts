import * as fs from 'node:fs'
import { validateTrainingData } from 'taskforce-fine-tune'
import { chatExample, chatJsonl, rejection, serve, tempDir, writeFile, useTempDir } from './helpers'

const tmp = useTempDir()

test('a clean dataset is valid, with token counts and the default epochs', async () => {
  const report = await validateTrainingData(writeFile(tmp.dir, 'ok.jsonl', chatJsonl(20)), { baseModel: 'gpt-4o-mini-2024-07-18' })
  expect(report.valid).toBe(true)
  expect(report.format).toBe('chat')
  expect(report.examples).toBe(20)
  expect(report.errors).toEqual([])
  expect(report.encoding).toBe('o200k_base')
  expect(report.defaultEpochs).toBe(5) // 3 epochs would be 60 example-passes, under the minimum of 100
  expect(report.tokens.min).toBeGreaterThan(0)
  expect(report.tokens.total).toBeGreaterThanOrEqual(report.tokens.min * 20)
  expect(report.tokens.total).toBeLessThanOrEqual(report.tokens.max * 20)
  expect(report.estimatedBilledTokens).toBe(report.tokens.total * report.epochs)
  expect(report.warnings.map((w) => w.kind)).toContain('few_examples')
})

test('each broken line is reported with its kind and 1-based line number', async () => {
  const lines = chatJsonl(12).trim().split('\n')
  lines[1] = '{"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]}'
  lines[4] = JSON.stringify({ messages: [{ role: 'user', content: 'no answer' }] })
  lines[8] = 'not json'
  const report = await validateTrainingData(writeFile(tmp.dir, 'bad.jsonl', lines.join('\n')), { baseModel: 'gpt-4o-mini' })
  expect(report.valid).toBe(false)
  const byKind = Object.fromEntries(report.errors.map((e) => [e.kind, e]))
  expect(byKind.unrecognized_role.lines).toEqual([2])
  expect(byKind.unrecognized_role.message).toMatch(/example 2, message 1/)
  expect(byKind.example_missing_assistant_message.lines).toEqual([5])
  expect(byKind.invalid_json.lines).toEqual([9])
})

test('cl100k_base for gpt-3.5 models, and a URL source', async () => {
  const body = Array.from({ length: 10 }, (_, i) => JSON.stringify(chatExample(i))).join('\n')
  const server = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.end(body)
  })
  try {
    const report = await validateTrainingData(`${server.url}/x.jsonl`, { baseModel: 'gpt-3.5-turbo' })
    expect(report.encoding).toBe('cl100k_base')
    expect(report.examples).toBe(10)
    expect(report.valid).toBe(true)
  } finally {
    await server.close()
  }
})

test('an unreadable source rejects with a code', async () => {
  const err = await rejection(validateTrainingData(`${tmp.dir}/missing.jsonl`))
  expect(err.code).toBe('ERR_SOURCE_NOT_FOUND')
})

test('the event loop keeps ticking while a large file is checked', async () => {
  // ~25 MB of chat examples with longer content.
  const line = JSON.stringify({
    messages: [
      { role: 'system', content: 'You are a helpful assistant. '.repeat(20) },
      { role: 'user', content: 'Explain the difference between a process and a thread, with examples. '.repeat(10) },
      { role: 'assistant', content: 'A process owns its memory; threads share it. '.repeat(30) },
    ],
  })
  const path = `${tmp.dir}/large.jsonl`
  const fd = fs.openSync(path, 'w')
  const chunk = (line + '\n').repeat(1000)
  while (fs.fstatSync(fd).size < 25e6) fs.writeSync(fd, chunk)
  fs.closeSync(fd)
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  const report = await validateTrainingData(path, { baseModel: 'gpt-4o-mini' })
  clearInterval(timer)
  expect(report.valid).toBe(true)
  expect(ticks).toBeGreaterThan(0)
})
