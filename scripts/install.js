#!/usr/bin/env node
// The package's `install` script. npm runs it when the package is installed (from the registry, a
// tarball, a folder or git) and in a checkout on `npm install` / `npm ci`.
//  - The addon loads (the platform package matched, or an addon was built here before): nothing
//    to do, so registry installs stay fast and need no Rust.
//  - It does not load and `cargo` is on the PATH: build it from the Rust sources shipped in the
//    package (with the napi CLI when the dev dependencies are there, as in a checkout or a git
//    install; else with cargo alone) and check that it loads. A failed build fails the install.
//  - Neither: print why and the ways out (the same message `require` throws) and succeed, so
//    installing a project that depends on this one still works; `require` then fails with it.
// FT_SKIP_INSTALL_BUILD=1 skips the build.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { addonFileName, cargoArtifact } = require('./platform.js')

const root = path.resolve(__dirname, '..')
const log = (m) => process.stderr.write(`[taskforce-fine-tune] ${m}\n`)

/** Loads the addon in a fresh process: null when it loads, else the error message. */
function loadError() {
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', path.join(root, 'index.js')], {
    encoding: 'utf8',
  })
  if (r.status === 0) return null
  const text = (r.stderr || '').trim()
  const i = text.indexOf('taskforce-fine-tune could not load')
  return i >= 0 ? text.slice(i).split(/\n\s+at /)[0] : text || `exit ${r.status}`
}

function hasCargo() {
  try {
    return spawnSync('cargo', ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' }).status === 0
  } catch (_) {
    return false
  }
}

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', ...opts })
  if (r.status !== 0) {
    log(`the build failed (${cmd} exited with ${r.status ?? r.signal}); see its output above`)
    process.exit(1)
  }
}

function build() {
  const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  if (fs.existsSync(napiCli)) {
    // A checkout or a git install (npm installs the dev dependencies there): the project's own build.
    run(process.execPath, [path.join(__dirname, 'build.js'), '--release'], { shell: false })
    return
  }
  // An installed package: cargo alone, then the cdylib goes where the generated loader looks first.
  const ownTarget = !process.env.CARGO_TARGET_DIR
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
  run('cargo', ['build', '--release', '--locked', '-p', 'taskforce-fine-tune'], {
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  })
  fs.copyFileSync(cargoArtifact(targetDir), path.join(root, addonFileName()))
  if (ownTarget) fs.rmSync(targetDir, { recursive: true, force: true })
}

const before = loadError()
if (before === null) process.exit(0)
if (process.env.FT_SKIP_INSTALL_BUILD === '1') {
  log('FT_SKIP_INSTALL_BUILD=1: not building the addon')
  process.exit(0)
}
if (!fs.existsSync(path.join(root, 'Cargo.toml')) || !hasCargo()) {
  log(before)
  if (fs.existsSync(path.join(root, 'Cargo.toml'))) log('(no cargo on the PATH, so it was not built from source)')
  process.exit(0)
}
log(`no prebuilt addon loads here; building it from source with cargo (a few minutes)…`)
build()
const after = loadError()
if (after !== null) {
  log(`built, but it still does not load:\n${after}`)
  process.exit(1)
}
log(`built ${addonFileName()}`)
