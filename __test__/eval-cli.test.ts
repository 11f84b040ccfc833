// `fine-tune eval` for CI: --junit FILE (a JUnit XML report a CI parses), answers reused by a
// rerun and --no-cache, and a verdict refused on too few examples (exit 6 with the reason).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { cli, jsonLines } from './cli-helpers'
import { ticketsJsonl } from './eval-data'
import { pipelineOptions, useEmulator, useTempDir, writeFile } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

const env = () => ({ OPENAI_API_KEY: fx.emu.apiKey, OPENAI_BASE_URL: fx.emu.url })

test('eval --junit FILE, a rerun that sends nothing, --no-cache, and --require-better on 5 examples', async () => {
  const base = pipelineOptions(fx.emu, tmp.dir)
  const registryPath = base.registryPath
  await trainAndRegisterFineTunedModel({ ...base, modelKey: 'router', source: writeFile(tmp.dir, 't.jsonl', ticketsJsonl(60, 3)) })
  const heldOut = writeFile(tmp.dir, 'held-out.jsonl', ticketsJsonl(16, 4))
  const junit = path.join(tmp.dir, 'junit', 'eval.xml')
  const args = ['eval', 'router', '--data', heldOut, '--registry-path', registryPath]

  const start = fx.emu.stats().chatCompletions
  const first = await cli([...args, '--junit', junit, '--min-score', 'toolCalls=0.5', '--require-better'], env())
  expect(first.stderr).not.toMatch(/^error/m)
  expect(first.code).toBe(0)
  expect(fx.emu.stats().chatCompletions - start).toBe(32)
  expect(first.stdout).toMatch(/^GRADER +N +CANDIDATE +BASELINE +DIFF +95% CI +W\/T\/L +SIGN P$/m)
  expect(first.stdout).toMatch(/^better: yes \(\* primary grader: toolCalls; sign test p = [<\d.]+, and the 95% CI of its difference lies above 0\)$/m)
  expect(first.stdout).toMatch(/^answers reused: 0, new: 32 \(store: .*\.eval-cache\)$/m)
  expect(first.stdout).toContain(`junit: ${junit}`)
  const xml = fs.readFileSync(junit, 'utf8')
  expect(XMLValidator.validate(xml)).toBe(true)
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'testcase' }).parse(xml)
  expect(doc.testsuites.failures).toBe('0')
  expect(doc.testsuites.testsuite.testcase.map((c: any) => c.name)).toEqual(['exact', 'toolCalls'])
  expect(doc.testsuites.testsuite.testcase.every((c: any) => c.failure === undefined)).toBe(true)

  // The same command again: every answer is reused.
  const again = await cli([...args, '--json'], env())
  expect(again.code).toBe(0)
  expect(fx.emu.stats().chatCompletions - start).toBe(32)
  const report = jsonLines(again.stdout).pop()
  expect([report.newAnswers, report.reusedAnswers, report.better]).toEqual([0, 32, true])

  const fresh = await cli([...args, '--no-cache', '--json'], env())
  expect(fresh.code).toBe(0)
  expect(fx.emu.stats().chatCompletions - start).toBe(64)
  expect(jsonLines(fresh.stdout).pop().newAnswers).toBe(32)

  // Five examples, all won: no verdict (exit 6), and the reason says why.
  const few = await cli([...args, '--max-examples', '5', '--require-better', '--junit', junit], env())
  expect(few.code).toBe(6)
  expect(few.stdout).toMatch(/^better: no \(\* primary grader: toolCalls; only 5 paired examples for toolCalls; a verdict needs at least 10\)$/m)
  expect(few.stdout).toMatch(/^verdict: NOT MET: not better than gpt-4o-mini-2024-07-18: toolCalls [\d.]+ vs 0 \(only 5 paired examples/m)
  const failed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'testcase' }).parse(fs.readFileSync(junit, 'utf8'))
  const tc = failed.testsuites.testsuite.testcase.find((c: any) => c.name === 'toolCalls')
  expect(tc.failure.type).toBe('NotBetter')
  expect(tc.failure.message).toMatch(/only 5 paired examples/)
})
