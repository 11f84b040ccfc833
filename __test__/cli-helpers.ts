// Running the real `fine-tune` CLI in a child process, for the cli*.test.ts files.
import { spawn } from 'node:child_process'
import * as path from 'node:path'

export const ROOT = path.join(__dirname, '..')
export const CLI = path.join(ROOT, 'bin', 'fine-tune.js')

export type Run = { code: number | null; signal: string | null; stdout: string; stderr: string }

/** The variables the CLI (and the core under it) read: removed from the child's environment. */
const READ_ENV = [
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'OPENAI_ORG_ID',
  'OPENAI_PROJECT_ID',
  'OPENAI_API_VERSION',
  'AZURE_OPENAI_ENDPOINT',
  'AZURE_OPENAI_API_KEY',
  'AZURE_ACCESS_TOKEN',
  'FINE_TUNED_MODELS_PATH',
  'NAPI_RS_NATIVE_LIBRARY_PATH',
]

/** The child's environment: the parent's, without the variables the CLI reads, plus `env`. */
export function childEnv(env: Record<string, string | undefined>): Record<string, string> {
  const merged: Record<string, string> = {}
  const base = { ...process.env }
  for (const k of READ_ENV) delete base[k]
  for (const [k, v] of Object.entries({ ...base, ...env })) if (v !== undefined) merged[k] = v
  return merged
}

/** Runs the CLI (stdout and stderr piped) and waits for it to exit. */
export function cli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT, script = CLI): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 45000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Every non-empty stdout line, parsed as JSON. */
export function jsonLines(stdout: string): any[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
}
