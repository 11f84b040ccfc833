// The CLI's help, usage errors and exit-code table: help that needs no addon and fits 100
// columns, a suggestion for a mistyped flag, and exit codes as the README's table lists them.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fineTuneOptions } from 'taskforce-fine-tune'
import { ROOT, cli } from './cli-helpers'
import { tempDir, writeFile } from './helpers'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { EXIT_CODES, exitCodeOf } = require('../bin/cli/errors') as {
  EXIT_CODES: { exit: number; meaning: string; codes: string[] }[]
  exitCodeOf: (code: string) => number
}

const COMMANDS = [
  'train', 'validate', 'status', 'list', 'show', 'cancel', 'pause', 'resume', 'doctor',
  'eval', 'versions', 'promote', 'rollback', 'remove', 'import', 'emulate',
]
/** Points the generated loader at a file that does not exist: the addon cannot load. */
const NO_ADDON = { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(ROOT, 'no-such-dir', 'fine-tune.node') }

const wide = (text: string) => text.split('\n').filter((l) => [...l].length > 100)

test('--help of the tool lists every command and the exit codes, within 100 columns', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await cli([flag])
    expect(r.code).toBe(0)
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'))
    expect(r.stdout).toMatch(/^Exit codes:/m)
    expect(r.stdout).toMatch(/^  6 +eval: the verdict is not met/m)
    expect(r.stdout).toMatch(/^  130 +aborted/m)
    expect(wide(r.stdout)).toEqual([])
  }
})

test.each(COMMANDS)('%s --help: the same text without the addon, -h alike, within 100 columns', async (c) => {
  const [r, short, noAddon] = await Promise.all([cli([c, '--help']), cli([c, '-h']), cli([c, '--help'], NO_ADDON)])
  expect(r.code).toBe(0)
  expect(r.stderr).toBe('')
  expect(r.stdout).toMatch(new RegExp(`^Usage: fine-tune ${c}\\b`, 'm'))
  expect(r.stdout).toMatch(/^Options:\n/m)
  expect(r.stdout).toMatch(/-h, --help/)
  expect(r.stdout).toMatch(/^  4 +the job failed, was cancelled, or has not finished/m)
  expect(wide(r.stdout)).toEqual([])
  expect(short.stdout).toBe(r.stdout)
  expect(noAddon.stderr).toBe('')
  expect(noAddon.code).toBe(0)
  expect(noAddon.stdout).toBe(r.stdout)
})

test('without the addon, help and usage errors work; a command says why it cannot run (exit 1)', async () => {
  const help = await cli(['train', '--help'], NO_ADDON)
  for (const s of fineTuneOptions()) expect(help.stdout).toContain(`--${s.name.split('.').pop()!.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)} `)
  const typo = await cli(['train', '--n-epoch', '3'], NO_ADDON)
  expect(typo.code).toBe(2)
  expect(typo.stderr).toMatch(/^error \[ERR_USAGE\]: unknown option '--n-epoch' \(did you mean --n-epochs\?\)/)
  const run = await cli(['list', '--json'], NO_ADDON)
  expect(run.code).toBe(1)
  expect(run.stderr).toMatch(/^error \[ERR_NATIVE_ADDON_NOT_LOADED\]: taskforce-fine-tune could not load its native addon/)
})

test("the CLI's copy of the option table (for help without the addon) is the addon's", () => {
  const copy = JSON.parse(fs.readFileSync(path.join(ROOT, 'bin', 'cli', 'options-table.json'), 'utf8'))
  // To refresh it: node -e "fs.writeFileSync('bin/cli/options-table.json', JSON.stringify(require('.').fineTuneOptions(), null, 2) + '\n')"
  expect(copy).toEqual(JSON.parse(JSON.stringify(fineTuneOptions())))
})

test('an unknown flag gets the nearest one; an unknown --config key too', async () => {
  const cases: [string[], RegExp][] = [
    [['train', '--n-epoch', '3'], /unknown option '--n-epoch' \(did you mean --n-epochs\?\)/],
    [['train', '--agentname', 'x'], /unknown option '--agentname' \(did you mean --agent-name\?\)/],
    [['eval', 'k', '--require-beter'], /unknown option '--require-beter' \(did you mean --require-better\?\)/],
    [['list', '--regsitry-path', 'x'], /unknown option '--regsitry-path' \(did you mean --registry-path\?\)/],
    [['list', '--frobnicate'], /unknown option '--frobnicate'$/m],
    [['list', '-x'], /unknown option '-x'$/m],
  ]
  for (const [args, message] of cases) {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error \[ERR_USAGE\]: /)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).toMatch(new RegExp(`^Usage: fine-tune ${args[0]}\\b`, 'm'))
  }
  const dir = tempDir()
  try {
    const cfg = writeFile(dir, 'job.json', JSON.stringify({ modelKey: 'k', nEpoch: 3 }))
    const r = await cli(['train', '--config', cfg])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: --config .*unknown option "nEpoch" \(did you mean "nEpochs"\?\)/m)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('--evaluate takes nothing, true/false or a JSON object; anything else is refused before any request', async () => {
  const bad = await cli(['train', '--evaluate', '[1]', '--json'])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: --evaluate: expected true, false or a JSON object/m)
  expect(JSON.parse(bad.stdout)).toMatchObject({ type: 'error', code: 'ERR_INVALID_OPTION', param: 'evaluate' })
  const notJson = await cli(['train', '--evaluate', '{maxExamples: 5}'])
  expect(notJson.code).toBe(2)
  expect(notJson.stderr).toMatch(/^error \[ERR_INVALID_OPTION\]: --evaluate: not valid JSON/m)
  // Accepted: the run goes on to the next check (the required options).
  for (const form of [['--evaluate'], ['--evaluate', '{"maxExamples":5}'], ['--evaluate={"graders":["exact"]}'], ['--evaluate', 'false']]) {
    const r = await cli(['train', ...form, '--model-key', 'k'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error \[ERR_MISSING_OPTION\]: /m)
  }
})

/** The README's exit-code table (README.md, or a page of docs/ when it moved there): exit code -> error codes. */
function readmeExitTable(): Map<number, string[]> {
  const pages = [path.join(ROOT, 'README.md')]
  const docs = path.join(ROOT, 'docs')
  if (fs.existsSync(docs)) for (const f of fs.readdirSync(docs)) if (f.endsWith('.md')) pages.push(path.join(docs, f))
  for (const page of pages) {
    const rows = [...fs.readFileSync(page, 'utf8').matchAll(/^\| (\d+) \| (.*) \|$/gm)]
    const table = new Map(rows.map((m) => [Number(m[1]), [...m[2].matchAll(/`((?:ERR|ABORT)_[A-Z_]+)`/g)].map((c) => c[1])]))
    if ([0, 1, 2, 3, 4, 5, 6, 130].every((n) => table.has(n))) return table
  }
  throw new Error('no exit-code table (rows | 0 | … | 130 |) in README.md or docs/')
}

test("exit codes: the README's table, the CLI's table and every error code agree", () => {
  const readme = readmeExitTable()
  expect([...readme.keys()]).toEqual(EXIT_CODES.map((r) => r.exit))
  for (const row of EXIT_CODES) expect(readme.get(row.exit)!.sort()).toEqual([...row.codes].sort())
  // Every code the package's errors carry, and every code the CLI makes, has its row.
  const dts = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8')
  const declared = /export type FineTuneErrorCode = (.*)/.exec(dts)![1].match(/'([A-Z_]+)'/g)!.map((s) => s.slice(1, -1))
  const own: string[] = []
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(path.join(d, f.name))
      else if (f.name.endsWith('.js')) own.push(...[...fs.readFileSync(path.join(d, f.name), 'utf8').matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]))
    }
  }
  walk(path.join(ROOT, 'bin'))
  const listed = EXIT_CODES.flatMap((r) => r.codes)
  for (const code of new Set([...declared, ...own])) expect(listed).toContain(code)
  expect(new Set(listed).size).toBe(listed.length)
  expect(exitCodeOf('ERR_JOB_NOT_FINISHED')).toBe(4)
  expect(exitCodeOf('ERR_SOMETHING_NEW')).toBe(3)
})
