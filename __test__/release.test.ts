// The release set-up agrees with itself: package.json's `napi.targets`, the npm/<platform>
// packages, `optionalDependencies` and the release workflow's build matrix name the same targets.
import * as fs from 'node:fs'
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
