#!/usr/bin/env node
// `npm run pack:local [-- --out DIR]`: the two tarballs a user on this machine would install, as
// the release publishes them: the main package (`npm pack` of this folder: JavaScript, types and
// the Rust sources, never a `.node`) and this platform's package (`npm/<platform>/` with the addon
// built here, as `napi artifacts` fills it in the release). Build the addon first (`npm run build`,
// or `npm run build:debug` for a quick one). Default DIR: `dist/`. Prints both paths and sizes and
// the command that installs them:
//
//   npm install ./dist/taskforce-fine-tune-0.1.0.tgz ./dist/taskforce-fine-tune-linux-x64-gnu-0.1.0.tgz
//
// Also a module: `packLocal({ out })` returns `{ main, platform }` (the tarballs' paths and npm
// pack's reports); __test__/install.test.ts installs what it makes.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { platformId, addonFileName } = require('./platform.js')

const root = path.resolve(__dirname, '..')

/** `npm pack` of `dir` into `out`: npm's JSON report of the tarball, with its absolute `path`. */
function npmPack(dir, out, env) {
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
    cwd: dir,
    env,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  })
  if (r.status !== 0) throw new Error(`npm pack in ${dir} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`)
  const report = JSON.parse(r.stdout)[0]
  return { ...report, path: path.join(out, report.filename) }
}

/** Packs the main package and this platform's package into `out`. */
function packLocal({ out = path.join(root, 'dist'), env = process.env } = {}) {
  const id = platformId()
  const addon = path.join(root, addonFileName())
  const platformDir = path.join(root, 'npm', id)
  if (!fs.existsSync(platformDir)) {
    throw new Error(`there is no prebuilt package for ${id} (npm/${id} does not exist); the main package alone builds from source`)
  }
  if (!fs.existsSync(addon)) throw new Error(`${addonFileName()} is missing: build it first (npm run build)`)
  fs.mkdirSync(out, { recursive: true })
  const main = npmPack(root, out, env)
  const stray = main.files.filter((f) => f.path.endsWith('.node'))
  if (stray.length) throw new Error(`the main package would carry ${stray.map((f) => f.path).join(', ')}: check "files" in package.json`)
  // The platform package as the release fills it: its folder plus the addon (in a copy, so that
  // npm/<platform>/ stays as committed).
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-pack-'))
  try {
    fs.cpSync(platformDir, stage, { recursive: true })
    fs.copyFileSync(addon, path.join(stage, addonFileName()))
    const platform = npmPack(stage, out, env)
    return { main, platform }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

module.exports = { packLocal }

if (require.main === module) {
  const i = process.argv.indexOf('--out')
  const out = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : path.join(root, 'dist')
  try {
    const { main, platform } = packLocal({ out })
    const mb = (n) => `${(n / 1e6).toFixed(1)} MB`
    const rel = (p) => {
      const r = path.relative(process.cwd(), p)
      return r.startsWith('..') || path.isAbsolute(r) ? p : `./${r.split(path.sep).join('/')}`
    }
    for (const t of [main, platform]) {
      console.log(`${rel(t.path)}  (${mb(t.size)} packed, ${mb(t.unpackedSize)} unpacked, ${t.entryCount} files)`)
    }
    console.log(`\nInstall both in a project (npm picks the platform package from the tarball instead of the registry):`)
    console.log(`  npm install ${rel(main.path)} ${rel(platform.path)}`)
  } catch (e) {
    console.error(`pack:local: ${e.message}`)
    process.exit(1)
  }
}
