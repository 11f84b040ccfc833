#!/usr/bin/env node
// `npm run test:install-git`: the from-source install. Clones this repository's HEAD (a clean
// clone: committed files only), installs it into a fresh project as `git+file://…/clone` with
// cargo on the PATH, and checks that npm's install built the addon and that the package loads and
// validates a file. npm fetches a git dependency by installing it in a temporary copy with its dev
// dependencies, then packs it (without any .node: package.json's `files`) and installs that; the
// package's install script (scripts/install.js) skips the build in the copy and builds the addon
// once, in place. Slow (a release build), so it is not part of `npm test`.
// CARGO_TARGET_DIR (default: this repository's target/, so compiled dependencies are reused)
// sets where cargo builds; FT_GIT_TEST_CLEAN=1 uses a fresh one.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { addonFileName } = require('./platform.js')

const root = path.resolve(__dirname, '..')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-install-git-'))
const env = {}
for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v
env.CARGO_TARGET_DIR = process.env.FT_GIT_TEST_CLEAN === '1' ? path.join(work, 'target') : process.env.CARGO_TARGET_DIR || path.join(root, 'target')

function run(cmd, args, cwd) {
  console.error(`$ ${cmd} ${args.join(' ')}   (in ${cwd})`)
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', shell: process.platform === 'win32' })
  if (r.status !== 0) {
    console.error(r.stdout)
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`)
  }
  return r.stdout
}

let failed = false
const t0 = Date.now()
try {
  const clone = path.join(work, 'clone')
  run('git', ['clone', '--quiet', '--depth', '1', `file://${root}`, clone], work)
  const project = path.join(work, 'project')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'git-user', version: '1.0.0', private: true }))
  // --foreground-scripts: show the install script's build as it runs.
  run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', `git+file://${clone}`], project)
  const installed = path.join(project, 'node_modules', 'taskforce-fine-tune')
  const addon = path.join(installed, addonFileName())
  if (!fs.existsSync(addon)) throw new Error(`${addon} was not built`)
  fs.writeFileSync(
    path.join(project, 'train.jsonl'),
    Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ messages: [{ role: 'user', content: `Tagline ${i}?` }, { role: 'assistant', content: `Product ${i}: simply better.` }] }),
    ).join('\n') + '\n',
  )
  const out = run(
    process.execPath,
    ['-e', "require('taskforce-fine-tune').validateTrainingData('train.jsonl').then((r) => console.log(JSON.stringify({ valid: r.valid, examples: r.examples })))"],
    project,
  )
  const report = JSON.parse(out)
  if (!report.valid || report.examples !== 12) throw new Error(`unexpected report ${out}`)
  const help = run('npx', ['--no-install', 'fine-tune', '--help'], project)
  if (!/train/.test(help)) throw new Error('fine-tune --help printed no commands')
  console.log(`test:install-git: OK in ${Math.round((Date.now() - t0) / 1000)} s (built ${addonFileName()}, ${(fs.statSync(addon).size / 1e6).toFixed(1)} MB; it loads and validates)`)
} catch (e) {
  failed = true
  console.error(`test:install-git: FAILED: ${e.message}`)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
