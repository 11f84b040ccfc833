// Installs the package as a user would: the two tarballs `npm run pack:local` makes (the main
// package as `npm pack` makes it, which never carries a `.node`, and this platform's package with
// the built addon), installed into a fresh project from npm's cache only (`--offline`, the
// registry pointed at a closed port), with `cargo` taken off the PATH. Then, from that project:
// `require` and ESM `import` (the addon loaded from the platform package), the emulator and one
// fine-tune through the installed package, and `npx fine-tune`. A second project gets the main
// package alone: `require` and the CLI must say which platform package was looked for and the
// ways out, without the loader's cause chain. A third gets it with a stand-in `cargo` (it copies
// the built addon where cargo would write it): the install script says it builds from source and
// how long it took, shown with --foreground-scripts. (The real git+file install, which builds
// from source, is `npm run test:install-git`.)
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { tempDir, writeFile, chatJsonl } from './helpers'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { platformId, addonFileName, cargoArtifact } = require('../scripts/platform.js')
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { packLocal } = require('../scripts/pack-local.js')

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
  // What `npm run pack:local` makes: the main package and this platform's, as published.
  const packed = packLocal({ out: work, env: userEnv() })
  mainTgz = packed.main.path
  platformTgz = packed.platform.path
  // A platform package whose addon cannot load here (as one built for a newer glibc would not).
  const broken = path.join(work, 'broken')
  fs.mkdirSync(broken)
  fs.cpSync(path.join(root, 'npm', platformId()), broken, { recursive: true })
  fs.writeFileSync(path.join(broken, addonFileName()), 'not a shared library')
  fs.mkdirSync(path.join(work, 'broken-tgz'))
  brokenTgz = pack(broken, path.join(work, 'broken-tgz')) // same file name as the good one
}, 240_000)

/** The `.node` files a fresh Node process has loaded after `require('taskforce-fine-tune')` in `dir`. */
function loadedAddons(dir: string): string[] {
  const script = "require('taskforce-fine-tune'); console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith('.node'))))"
  return JSON.parse(ok(run(process.execPath, ['-e', script], dir), 'require').trim())
}

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
    const fromPlatformPackage = path.join(dir, 'node_modules', platformPackage, addonFileName())
    expect(fs.existsSync(fromPlatformPackage)).toBe(true)
    expect(loadedAddons(dir)).toEqual([fs.realpathSync(fromPlatformPackage)])
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
    // The message, not the loader's chain of causes (which starts with a WASI package)…
    expect(r.stderr).not.toContain('wasm32-wasi')
    expect(r.stderr).not.toMatch(/cause\]?: Error/)
    expect(r.stderr.split('\n').length).toBeLessThan(40)
  })

  test("the loader's own errors stay on error.cause", () => {
    const script = `try { require('taskforce-fine-tune') } catch (e) {
      const chain = []
      for (let c = e.cause; c; c = c.cause) chain.push(c.message.split('\\n')[0])
      console.log(JSON.stringify({ code: e.code, chain }))
    }`
    const out = JSON.parse(ok(run(process.execPath, ['-e', script], dir), 'require').trim())
    expect(out.code).toBe('ERR_NATIVE_ADDON_NOT_LOADED')
    expect(out.chain).toEqual(expect.arrayContaining([`Cannot find module '${platformPackage}'`, `Cannot find module './${addonFileName()}'`]))
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

// The source build, with a stand-in cargo: `cargo --version` answers, `cargo build` copies the
// addon built here to where cargo writes the cdylib (an actual release build takes minutes).
;(win ? describe.skip : describe)('installed without the platform package, with cargo on the PATH', () => {
  let bin = ''
  beforeAll(() => {
    bin = tempDir()
    dirs.push(bin)
    const fake = writeFile(
      bin,
      'fake-cargo.js',
      `const fs = require('node:fs'), path = require('node:path')
       const args = process.argv.slice(2)
       if (args[0] === '--version') { console.log('cargo 1.88.0 (stand-in)'); process.exit(0) }
       if (args[0] !== 'build') process.exit(1)
       console.error('   Compiling taskforce-fine-tune (stand-in)')
       const out = path.join(process.env.CARGO_TARGET_DIR, 'release', ${JSON.stringify(path.basename(cargoArtifact('/')))})
       fs.mkdirSync(path.dirname(out), { recursive: true })
       fs.copyFileSync(${JSON.stringify(addon)}, out)`,
    )
    writeFile(bin, 'cargo', `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(fake)} "$@"\n`)
    fs.chmodSync(path.join(bin, 'cargo'), 0o755)
  })

  function withCargo(): Record<string, string> {
    const env = userEnv()
    const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH'
    env[pathKey] = `${bin}${path.delimiter}${env[pathKey]}`
    return env
  }

  function install(flags: string[]): { dir: string; out: string } {
    const dir = tempDir()
    dirs.push(dir)
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }))
    const r = run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...flags, mainTgz], dir, withCargo())
    return { dir, out: ok(r, 'npm install') + r.stderr }
  }

  test('--foreground-scripts shows that it builds, how long that takes and took; the addon built in place loads', () => {
    const { dir, out } = install(['--foreground-scripts'])
    expect(out).toContain(`no prebuilt addon loads on this platform: building ${addonFileName()} from source with cargo.`)
    expect(out).toMatch(/A release build takes a few minutes on a fast machine, about \d+ on 2 cores/)
    expect(out).toContain('Compiling taskforce-fine-tune (stand-in)')
    expect(out).toMatch(new RegExp(`built ${addonFileName().replace(/\./g, '\\.')} in \\d+ s`))
    const installed = path.join(dir, 'node_modules', pkg.name)
    expect(fs.existsSync(path.join(installed, 'target'))).toBe(false)
    expect(loadedAddons(dir)).toEqual([fs.realpathSync(path.join(installed, addonFileName()))])
  })

  test('without it, npm hides the install script\'s output (what the README tells users)', () => {
    const { dir, out } = install([])
    expect(fs.existsSync(path.join(dir, 'node_modules', pkg.name, addonFileName()))).toBe(true)
    expect(out).not.toContain('from source with cargo')
  })
})
