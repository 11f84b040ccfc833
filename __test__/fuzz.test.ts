// Every exported function, called with generated hostile values (cycles, nesting up to 10,000
// deep, strings of 1 to 50 MB, NaN and +-Infinity, wrong types, null/undefined, `__proto__` and
// `constructor` keys, getters and Proxy traps that throw, fake AbortSignals) in a child process,
// so that a crash is seen as the child's signal: the child must never crash, and every call must
// return, resolve, or throw/reject a FineTuneError whose `code` is one of FineTuneErrorCode.
// Seeded and of a fixed size (FUZZ_SEED and FUZZ_CALLS replay or widen a run).
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'
import type { AddressInfo } from 'node:net'
import { tempDir } from './helpers'

const CHILD = path.join(__dirname, 'fixtures', 'fuzz-child.js')
const SEEDS = process.env.FUZZ_SEED ? [Number(process.env.FUZZ_SEED)] : [1, 2]
const CALLS = Number(process.env.FUZZ_CALLS || 1000)

// Where a call that gets past every check sends its requests: an API that refuses the key
// (401, not retried), so no call waits and nothing leaves the machine.
let server: http.Server
let baseUrl = ''
beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key', param: null } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

interface FuzzRun {
  code: number | null
  signal: string | null
  stderr: string
  report?: {
    seed: number
    calls: number
    resolved: number
    rejected: number
    byCode: Record<string, number>
    byExport: Record<string, number>
    unspecified: string[]
    violations: unknown[]
  }
}

function fuzz(seed: number): Promise<FuzzRun> {
  // Two levels below the temporary folder: a hostile relative path ("x/../../y") stays inside it.
  const dir = tempDir()
  const cwd = path.join(dir, 'work', 'run')
  fs.mkdirSync(cwd, { recursive: true })
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(OPENAI_|AZURE_|FINE_TUNED_)/.test(k)) env[k] = v
  }
  Object.assign(env, { FUZZ_SEED: String(seed), FUZZ_CALLS: String(CALLS), OPENAI_BASE_URL: baseUrl })
  const child = spawn(process.execPath, [CHILD], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let stderr = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      fs.rmSync(dir, { recursive: true, force: true })
      const last = out.trim().split('\n').pop()
      let report
      try {
        report = last ? JSON.parse(last) : undefined
      } catch (_) {
        report = undefined
      }
      resolve({ code, signal, stderr: stderr.slice(-2000), report })
    }),
  )
}

test(`${SEEDS.length} x ${CALLS} hostile calls to every export: no crash, only documented codes`, async () => {
  const runs = await Promise.all(SEEDS.map(fuzz))
  for (const run of runs) {
    // A crash (SIGSEGV, an abort, an uncaught exception) fails here, with what the child said.
    expect({ signal: run.signal, code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ signal: null, code: 0, stderr: '' })
    const r = run.report!
    expect(r.unspecified).toEqual([]) // a new export must be added to the fuzzer's table
    expect(r.violations).toEqual([])
    expect(r.calls).toBe(CALLS)
    expect(r.resolved + r.rejected).toBe(CALLS)
    // The run reached every export, and most hostile calls were refused as options.
    expect(Object.keys(r.byExport).length).toBe(20)
    expect(r.byCode.ERR_INVALID_OPTION).toBeGreaterThan(CALLS / 2)
  }
}, 120_000)
