// Installs the package as a user would: `npm pack` of the main package (without any addon) and of
// this platform's package (npm/<platform>/ with the built addon), both tarballs installed into a
// fresh project from npm's cache only (`--offline`, the registry pointed at a closed port), with
// `cargo` taken off the PATH. Then, from that project: `require` and ESM `import`, the emulator
// and one fine-tune through the installed package, and `npx fine-tune`. A second project gets
// the main package alone: `require` and the CLI must say which platform package was looked for
// and the ways out. (The git+file install, which builds from source, is `npm run test:install-git`.)
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { tempDir, writeFile, chatJsonl } from './helpers'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { platformId, addonFileName } = require('../scripts/platform.js')

const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const win = process.platform === 'win32'
const platformPackage = `${pkg.name}-${platformId()}`

/** The environment of a user without Rust: no npm_* variables of the npm running Jest, no cargo. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_/i.test(k) && k !== 'INIT_CWD' && !k.startsWith('NAPI_RS_')) env[k] = v
  }
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH'
  env[pathKey] = (env[pathKey] ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !['cargo', 'cargo.exe'].some((c) => fs.existsSync(path.join(dir, c))))
    .join(path.delimiter)
  env.CARGO_HOME = path.join(os.tmpdir(), 'ft-install-test-no-cargo-home')
  env.npm_config_registry = 'http://127.0.0.1:9/'
  env.npm_config_update_notifier = 'false'
  return env
}

function run(cmd: string, args: string[], cwd: string, env = userEnv()): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', shell: win, timeout: 240_000 })
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** `npm pack` of `dir` into `dest`: the tarball's path. */
function pack(dir: string, dest: string): string {
  const out = ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], dir), `npm pack ${dir}`)
  return path.join(dest, JSON.parse(out)[0].filename)
}

/** A new project with `tarballs` installed from the cache only. */
function project(tarballs: string[]): string {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }))
  ok(run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], dir), 'npm install')
  return dir
}

const addon = path.join(root, addonFileName())
const dirs: string[] = []
let mainTgz = ''
let platformTgz = ''
let brokenTgz = ''

beforeAll(() => {
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: run npm run build first`)
  const work = tempDir()
  dirs.push(work)
  // The main package as `npm pack` makes it, minus any addon built here (published, it has none).
  const listed = JSON.parse(ok(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root), 'npm pack --dry-run'))[0]
  const main = path.join(work, 'main')
  for (const f of listed.files as { path: string }[]) {
    if (f.path.endsWith('.node')) continue
    fs.mkdirSync(path.dirname(path.join(main, f.path)), { recursive: true })
    fs.copyFileSync(path.join(root, f.path), path.join(main, f.path))
  }
  // The platform package as `napi artifacts` fills it.
  const plat = path.join(work, 'platform')
  fs.cpSync(path.join(root, 'npm', platformId()), plat, { recursive: true })
  fs.copyFileSync(addon, path.join(plat, addonFileName()))
  mainTgz = pack(main, work)
  platformTgz = pack(plat, work)
  // A platform package whose addon cannot load here (as one built for a newer glibc would not).
  const broken = path.join(work, 'broken')
  fs.mkdirSync(broken)
  fs.cpSync(path.join(root, 'npm', platformId()), broken, { recursive: true })
  fs.writeFileSync(path.join(broken, addonFileName()), 'not a shared library')
  fs.mkdirSync(path.join(work, 'broken-tgz'))
  brokenTgz = pack(broken, path.join(work, 'broken-tgz')) // same file name as the good one
}, 240_000)

afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const cargo = spawnSync('cargo', ['--version'], { shell: win }).status === 0

// What the install script builds from when no prebuilt addon loads (with cargo on the PATH).
;(cargo ? test : test.skip)('the main tarball carries the Rust workspace (cargo metadata reads it)', () => {
  const dir = tempDir()
  dirs.push(dir)
  ok(run('tar', ['-xzf', mainTgz, '-C', dir], dir, { ...process.env } as Record<string, string>), 'tar')
  const meta = JSON.parse(
    ok(run('cargo', ['metadata', '--offline', '--format-version', '1', '--no-deps'], path.join(dir, 'package'), { ...process.env } as Record<string, string>), 'cargo metadata'),
  )
  expect(meta.packages.map((p: { name: string }) => p.name).sort()).toEqual(
    ['fine-tune-core', 'fine-tune-dataset', 'fine-tune-emulator', 'taskforce-fine-tune'].sort(),
  )
})

describe('installed from the two tarballs, without cargo', () => {
  let dir = ''
  beforeAll(() => {
    dir = project([mainTgz, platformTgz])
    dirs.push(dir)
  }, 240_000)

  test('the addon comes from the platform package; the install script built nothing', () => {
    const installed = path.join(dir, 'node_modules', pkg.name)
    expect(fs.readdirSync(installed).filter((f) => f.endsWith('.node'))).toEqual([])
    expect(fs.existsSync(path.join(installed, 'target'))).toBe(false)
    expect(fs.existsSync(path.join(dir, 'node_modules', platformPackage, addonFileName()))).toBe(true)
  })

  test('require (CommonJS) gives the whole API', () => {
    const script = writeFile(
      dir,
      'cjs.cjs',
      `const ft = require('taskforce-fine-tune')
       console.log(JSON.stringify({ keys: Object.keys(ft).sort(), resolved: ft.resolveModel('x') }))`,
    )
    const out = JSON.parse(ok(run(process.execPath, [script], dir), 'cjs.cjs'))
    for (const name of ['trainAndRegisterFineTunedModel', 'validateTrainingData', 'startEmulator', 'getRegisteredModel', 'resolveModel']) {
      expect(out.keys).toContain(name)
    }
    expect(out.resolved).toBe('x')
  })

  test('import (ESM): named imports; the emulator and one fine-tune', () => {
    writeFile(dir, 'train.jsonl', chatJsonl(12))
    const script = writeFile(
      dir,
      'esm.mjs',
      `import { startEmulator, trainAndRegisterFineTunedModel, getRegisteredModel } from 'taskforce-fine-tune'
       import ft from 'taskforce-fine-tune'
       const emulator = await startEmulator({ jobDurationMs: 300 })
       try {
         const registryPath = new URL('./fine-tuned/models.json', import.meta.url).pathname.replace(/^\\/([A-Za-z]:)/, '$1')
         const model = await trainAndRegisterFineTunedModel({
           agentName: 'Writer', modelKey: 'writer_v1', baseModel: 'gpt-4o-mini-2024-07-18',
           source: 'train.jsonl', apiKey: emulator.apiKey, baseUrl: emulator.url, registryPath, pollIntervalMs: 50,
         })
         const entry = getRegisteredModel('writer_v1', { registryPath })
         console.log(JSON.stringify({ fineTunedModel: model.fineTunedModel, registered: entry.model.name, same: ft.startEmulator === startEmulator }))
       } finally {
         await emulator.close()
       }`,
    )
    const out = JSON.parse(ok(run(process.execPath, [script], dir), 'esm.mjs'))
    expect(out.fineTunedModel).toMatch(/^ft:gpt-4o-mini-2024-07-18:/)
    expect(out.registered).toBe(out.fineTunedModel)
    expect(out.same).toBe(true)
  })

  test('npx fine-tune --help, and a command that loads the addon', () => {
    expect(ok(run('npx', ['--no-install', 'fine-tune', '--help'], dir), 'npx fine-tune --help')).toMatch(/train/)
    writeFile(dir, 'valid.jsonl', chatJsonl(12))
    const v = run('npx', ['--no-install', 'fine-tune', 'validate', 'valid.jsonl', '--json'], dir)
    expect(v.status).toBe(0)
    expect(JSON.parse(v.stdout.trim().split('\n').pop()!).valid).toBe(true)
  })
})

describe('installed without the platform package, without cargo', () => {
  let dir = ''
  beforeAll(() => {
    dir = project([mainTgz])
    dirs.push(dir)
  }, 240_000)

  test('require fails naming the platform package and the two ways out', () => {
    const r = run(process.execPath, ['-e', "require('taskforce-fine-tune')"], dir)
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain(`It looked for the platform package ${platformPackage}, which is not installed`)
    expect(r.stderr).toContain('Two ways out')
    expect(r.stderr).toContain(`npm install ${platformPackage}@${pkg.version}`)
    expect(r.stderr).toContain('install Rust (https://rustup.rs')
    expect(r.stderr).toContain('npm rebuild taskforce-fine-tune')
    expect(r.stderr).not.toContain('npm has a bug related to optional dependencies')
  })

  test('the CLI prints that message and exits 1, not ERR_UNEXPECTED', () => {
    const r = run('npx', ['--no-install', 'fine-tune', 'list'], dir)
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('error [ERR_NATIVE_ADDON_NOT_LOADED]: taskforce-fine-tune could not load its native addon')
    expect(r.stderr).toContain(platformPackage)
    expect(r.stderr).not.toContain('ERR_UNEXPECTED')
  })
})

describe('installed with a platform package whose addon does not load, without cargo', () => {
  test("require says it found the package, and gives the loader's reason", () => {
    const dir = project([mainTgz, brokenTgz])
    dirs.push(dir)
    const r = run(process.execPath, ['-e', "require('taskforce-fine-tune')"], dir)
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain(`It found the platform package ${platformPackage}`)
    expect(r.stderr).toContain('but it failed to load')
    expect(r.stderr).toContain(addonFileName()) // the dlopen error names the file
    expect(r.stderr).toContain('Two ways out')
  })
})
