// The release set-up agrees with itself: package.json's `napi.targets`, the npm/<platform>
// packages, `optionalDependencies` and the release workflow's build matrix name the same targets.
// The release steps themselves (`napi artifacts`, then `npm pack` of the main package) run here
// on stand-in addons: the main package never carries a `.node`.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const workflow = fs.readFileSync(path.join(root, '.github', 'workflows', 'CI.yml'), 'utf8')

/** napi-rs's platform id of a target triple (as `napi create-npm-dirs` names the folders). */
function platformId(triple: string): { id: string; os: string; cpu: string; libc?: string } {
  const [arch] = triple.split('-')
  const cpu = ({ x86_64: 'x64', aarch64: 'arm64' } as Record<string, string>)[arch]
  if (triple.includes('-linux-')) {
    const libc = triple.endsWith('-musl') ? 'musl' : 'gnu'
    return { id: `linux-${cpu}-${libc}`, os: 'linux', cpu, libc: libc === 'gnu' ? 'glibc' : 'musl' }
  }
  if (triple.includes('-apple-darwin')) return { id: `darwin-${cpu}`, os: 'darwin', cpu }
  if (triple.includes('-windows-msvc')) return { id: `win32-${cpu}-msvc`, os: 'win32', cpu }
  throw new Error(`unexpected target ${triple}`)
}

/** The lines of one top-level job of the workflow. */
function job(name: string): string {
  const start = workflow.indexOf(`\n  ${name}:\n`)
  expect(start).toBeGreaterThan(0)
  const rest = workflow.slice(start + name.length + 4)
  const end = rest.search(/\n {2}[A-Za-z][\w-]*:\n/)
  return end < 0 ? rest : rest.slice(0, end)
}

const targets: string[] = pkg.napi.targets

test('napi.targets lists at least the platforms the issue asks for', () => {
  for (const t of [
    'x86_64-unknown-linux-gnu',
    'x86_64-unknown-linux-musl',
    'aarch64-unknown-linux-gnu',
    'aarch64-unknown-linux-musl',
    'x86_64-apple-darwin',
    'aarch64-apple-darwin',
    'x86_64-pc-windows-msvc',
  ]) {
    expect(targets).toContain(t)
  }
})

test('one npm/<platform> package per target, named, constrained and versioned as napi-rs makes them', () => {
  const dirs = fs.readdirSync(path.join(root, 'npm')).sort()
  expect(dirs).toEqual(targets.map((t) => platformId(t).id).sort())
  for (const t of targets) {
    const { id, os, cpu, libc } = platformId(t)
    const p = JSON.parse(fs.readFileSync(path.join(root, 'npm', id, 'package.json'), 'utf8'))
    expect(p.name).toBe(`${pkg.name}-${id}`)
    expect(p.version).toBe(pkg.version)
    expect(p.os).toEqual([os])
    expect(p.cpu).toEqual([cpu])
    if (libc) expect(p.libc).toEqual([libc])
    else expect(p.libc).toBeUndefined()
    expect(p.main).toBe(`${pkg.napi.binaryName}.${id}.node`)
    expect(p.files).toEqual([p.main])
  }
})

test('optionalDependencies name every platform package at the same version', () => {
  const expected = Object.fromEntries(targets.map((t) => [`${pkg.name}-${platformId(t).id}`, pkg.version]))
  expect(pkg.optionalDependencies).toEqual(expected)
})

test("the workflow's build matrix builds exactly napi.targets, Linux glibc with zig for 2.17", () => {
  const build = job('build')
  const built = [...build.matchAll(/^\s+target: (\S+)$/gm)].map((m) => m[1])
  expect([...built].sort()).toEqual([...targets].sort())
  for (const t of targets) {
    const entry = build.slice(build.indexOf(`target: ${t}\n`))
    const cmd = /build: (.*)/.exec(entry)![1]
    if (t.endsWith('-linux-gnu')) expect(cmd).toContain(`--target ${t}.2.17 -x`)
    else if (t.endsWith('-linux-musl')) expect(cmd).toContain(`--target ${t} -x`)
    else expect(cmd).toContain(`--target ${t}`)
  }
  expect(build).toContain('npm run check:portable')
})

test('the workflow tests every target on Node 20, 22 and 24, and publishes with provenance', () => {
  const tested = [
    ...[...job('test-macOS-windows-binding').matchAll(/^\s+target: (\S+)$/gm)].map((m) => m[1]),
    ...[...job('test-linux-binding').matchAll(/^\s+- ([a-z0-9_]+-[a-z0-9_-]+)$/gm)].map((m) => m[1]),
  ]
  expect([...tested].sort()).toEqual([...targets].sort())
  for (const name of ['test-macOS-windows-binding', 'test-linux-binding']) {
    const nodes = [...job(name).matchAll(/^\s+- '(\d+)'$/gm)].map((m) => m[1])
    expect(nodes).toEqual(['20', '22', '24'])
  }
  const publish = job('publish')
  expect(publish).toContain('npm run artifacts')
  expect(publish).toContain('npm publish --provenance')
  expect(publish).toContain('id-token: write')
  expect(pkg.scripts.prepublishOnly).toBe('napi prepublish -t npm')
  expect(pkg.scripts.artifacts).toBe('napi artifacts')
})

test('index.js is the hand-written wrapper around the generated binding.js', () => {
  // A bare `napi build --platform` writes its loader to index.js; `npm run build` (scripts/build.js)
  // writes it to binding.js. This catches the former.
  const index = fs.readFileSync(path.join(root, 'index.js'), 'utf8')
  expect(index).not.toContain('auto-generated by NAPI-RS')
  expect(index).toContain("module.exports = require('./binding.js')")
  expect(fs.readFileSync(path.join(root, 'binding.js'), 'utf8')).toContain('auto-generated by NAPI-RS')
  expect(pkg.files).toEqual(expect.arrayContaining(['index.js', 'binding.js', 'index.d.ts']))
  expect(pkg.main).toBe('index.js')
  expect(pkg.types).toBe('index.d.ts')
})

// The portability check itself: Node's own binary links libstdc++ (and needs glibc 2.28), so it fails.
;(process.platform === 'linux' ? test : test.skip)('check:portable fails on a binary that is not portable', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process')
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-portable.js'), process.execPath], { encoding: 'utf8' })
  expect(r.status).toBe(1)
  expect(r.stdout).toMatch(/FAIL: (needs GLIBC_2\.(1[89]|[2-9]\d)|links libstdc\+\+)/)
})

/** `npm pack --dry-run --json` of `dir`: the paths it would pack. */
function packedFiles(dir: string): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  })
  if (r.status !== 0) throw new Error(`npm pack --dry-run in ${dir}: ${r.stderr}`)
  return (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path).sort()
}

describe('the release steps on stand-in addons (napi artifacts, then npm pack)', () => {
  let work = ''
  let mainFiles: string[] = []
  const ids = targets.map((t) => platformId(t).id)

  beforeAll(() => {
    // A copy of what the main package holds now, plus npm/, as the publish job has them.
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-release-'))
    for (const f of [...packedFiles(root), ...fs.readdirSync(path.join(root, 'npm')).map((d) => `npm/${d}/package.json`)]) {
      fs.mkdirSync(path.dirname(path.join(work, f)), { recursive: true })
      fs.copyFileSync(path.join(root, f), path.join(work, f))
    }
    // What actions/download-artifact leaves: one folder per build job, each with its addon.
    for (const id of ids) {
      fs.mkdirSync(path.join(work, 'artifacts', `bindings-${id}`), { recursive: true })
      fs.writeFileSync(path.join(work, 'artifacts', `bindings-${id}`, `${pkg.napi.binaryName}.${id}.node`), `stand-in addon for ${id}\n`)
    }
    const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
    const r = spawnSync(process.execPath, [napi, 'artifacts'], { cwd: work, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`napi artifacts: ${r.stdout}\n${r.stderr}`)
    mainFiles = packedFiles(work)
  }, 120_000)

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true })
  })

  test('napi artifacts fills each npm/<platform> and copies every addon to the package root too', () => {
    for (const id of ids) {
      const name = `${pkg.napi.binaryName}.${id}.node`
      expect(fs.readFileSync(path.join(work, 'npm', id, name), 'utf8')).toBe(`stand-in addon for ${id}\n`)
      // The hazard this guards against: the root copies are there when the main package is packed.
      expect(fs.existsSync(path.join(work, name))).toBe(true)
    }
  })

  test('the main package carries no .node: every platform gets its addon from its own package', () => {
    expect(mainFiles.filter((f) => f.endsWith('.node'))).toEqual([])
    expect(mainFiles).toEqual(expect.arrayContaining(['index.js', 'binding.js', 'index.d.ts', 'package.json']))
    expect(pkg.files.some((f: string) => /\.node$/.test(f) && !f.startsWith('!'))).toBe(false)
  })

  test("so binding.js, which tries ./<name>.<platform>.node first, finds none of them in a published install", () => {
    // The generated loader prefers a root addon (a checkout's own build, or the install script's
    // build from source when no platform package loads) over the platform package; a published
    // install has neither, so it loads the platform package.
    const binding = fs.readFileSync(path.join(root, 'binding.js'), 'utf8')
    const local = [...binding.matchAll(/require\('\.\/([^']+\.node)'\)/g)].map((m) => m[1])
    for (const id of ids) expect(local).toContain(`${pkg.napi.binaryName}.${id}.node`)
    expect(local.filter((f) => mainFiles.includes(f))).toEqual([])
  })

  test('each platform package carries exactly its own addon', () => {
    for (const id of ids) {
      const files = packedFiles(path.join(work, 'npm', id))
      expect(files.filter((f) => f !== 'README.md')).toEqual([`${pkg.napi.binaryName}.${id}.node`, 'package.json'])
    }
  })
})

describe('repository (npm --provenance needs it)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { repositoryProblems, normalize } = require('../scripts/check-repository.js')
  const manifests = ['package.json', ...fs.readdirSync(path.join(root, 'npm')).map((d) => `npm/${d}/package.json`)]

  test('package.json and every npm/<platform>/package.json name the same repository', () => {
    const urls = manifests.map((f) => JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')).repository)
    expect(pkg.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/) })
    for (const u of urls) expect(u).toEqual(pkg.repository)
  })

  test('check-repository refuses a repository that is not the workflow\'s, and the placeholder', () => {
    const [owner, name] = normalize(pkg.repository.url).replace('github.com/', '').split('/')
    expect(repositoryProblems(`someone-else/${name}`)).toHaveLength(manifests.length)
    if (owner === 'owner') {
      // Still the placeholder: even a workflow in a repository of that name is refused.
      expect(repositoryProblems(`OWNER/${name}`)).toEqual(manifests.map((f) => expect.stringContaining(`${f}: repository.url is the placeholder`)))
    } else {
      expect(repositoryProblems(`${owner}/${name}`)).toEqual([])
    }
  })

  test('the workflow checks it right before each npm publish', () => {
    const publish = job('publish')
    const lines = publish.split('\n').map((l) => l.trim())
    const publishes = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('npm publish'))
    expect(publishes.length).toBeGreaterThan(0)
    for (const [, i] of publishes) expect(lines.slice(Math.max(0, i - 3), i)).toContain('node scripts/check-repository.js')
  })
})
