import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'
import type { AddressInfo } from 'node:net'
import { startEmulator, type Emulator, type EmulatorOptions } from 'taskforce-fine-tune'

/** A clean chat example. */
export function chatExample(i: number): object {
  return {
    messages: [
      { role: 'system', content: 'You are a helpful writer.' },
      { role: 'user', content: `Write a tagline for product ${i}.` },
      { role: 'assistant', content: `Product ${i}: simply better.` },
    ],
  }
}

/** JSON Lines of `n` clean chat examples. */
export function chatJsonl(n: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify(chatExample(i))).join('\n') + '\n'
}

/** A fresh temporary folder. */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ft-test-'))
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const p = path.join(dir, name)
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, text)
  return p
}

/** GET an emulator endpoint (the OpenAI API's own list endpoints: what a user could ask). */
export async function api(url: string, key: string, p: string): Promise<any> {
  const res = await fetch(`${url}${p}`, { headers: { Authorization: `Bearer ${key}` } })
  if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`)
  return res.json()
}

/** How many files and jobs the emulator holds. */
export async function counts(url: string, key: string): Promise<{ files: number; jobs: number }> {
  const files = await api(url, key, '/files?purpose=fine-tune&limit=10000')
  const jobs = await api(url, key, '/fine_tuning/jobs?limit=100')
  return { files: files.data.length, jobs: jobs.data.length }
}

/** A loopback HTTP server answering with `handler`; closed by the returned `close`. */
export async function serve(
  handler: http.RequestListener,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      }),
  }
}

/** Runs `p` and returns what it rejected with (fails if it resolved). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection, but the promise resolved')
}

/**
 * Runs one pipeline in a child Node process (the real environment, which Jest's sandboxed
 * `process.env` does not reach), with `env` overriding the parent's environment (`undefined`
 * removes a variable). Resolves when the child exits.
 */
export function runChild(
  opts: object,
  env: Record<string, string | undefined> = {},
): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; result: any }> } {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env, FT_OPTIONS: JSON.stringify(opts) })) {
    if (v !== undefined) merged[k] = v
  }
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'train-child.js')], {
    env: merged,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  const done = new Promise<{ code: number | null; signal: string | null; result: any }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, result: out.trim() ? JSON.parse(out.trim()) : undefined })),
  )
  return { child, done }
}

/** A fresh temporary folder for each test of the file, removed after it: read `ctx.dir`. */
export function useTempDir(): { dir: string } {
  const ctx = { dir: '' }
  beforeEach(() => {
    ctx.dir = tempDir()
  })
  afterEach(() => {
    fs.rmSync(ctx.dir, { recursive: true, force: true })
  })
  return ctx
}

/** An emulator for the tests of a file or `describe` block, closed in `afterAll`: `ctx.emu`. */
export function useEmulator(options: EmulatorOptions = {}): { emu: Emulator } {
  const ctx = { emu: undefined as unknown as Emulator }
  beforeAll(async () => {
    ctx.emu = await startEmulator(options)
  })
  afterAll(async () => {
    await ctx.emu.close()
  })
  return ctx
}

/** Pipeline options against `emu`: 12 clean examples in `dir`, the registry in `dir`; `extra` overrides. */
export function pipelineOptions(emu: Emulator, dir: string, extra: Record<string, unknown> = {}): any {
  return {
    agentName: 'Writer',
    modelKey: 'writer_v1',
    baseModel: 'gpt-4o-mini-2024-07-18',
    source: writeFile(dir, 'train.jsonl', chatJsonl(12)),
    apiKey: emu.apiKey,
    baseUrl: emu.url,
    registryPath: path.join(dir, 'fine-tuned', 'models.json'),
    pollIntervalMs: 50,
    ...extra,
  }
}

/**
 * The folder holding a real `taskforce-aiagent` 1.0.15 (`node_modules/taskforce-aiagent`), installed
 * once by scripts/taskforce-fixture.js (about 2 minutes the first time; give the beforeAll that
 * calls it a timeout of 300000). Run a TaskForce agent in a child process with this folder's
 * node_modules on NODE_PATH and its cwd where `fine-tuned/models.json` is: TaskForce reads that file
 * once, when imported, from the cwd, and needs OPENAI_API_KEY / OPENAI_BASE_URL at import.
 */
export function taskforceDir(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { ensureTaskForce } = require('../scripts/taskforce-fixture.js')
  return ensureTaskForce()
}

/**
 * Waits until `predicate` returns a truthy value (it may be async) and resolves with that value,
 * asking again every `intervalMs`; throws, naming `what`, once `deadlineMs` has passed. For waits
 * on an event or an emulator counter instead of a fixed sleep.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  deadlineMs: number,
  what = 'condition',
  intervalMs = 10,
): Promise<T> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() > end) throw new Error(`${what}: not met within ${deadlineMs} ms`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
