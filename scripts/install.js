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
// FT_SKIP_INSTALL_BUILD=1 skips the build. A git install builds once, in place: not in the clone
// npm prepares and packs (see preparingGitDependency).
//
// npm (7 and later) runs a dependency's install script in the background and hides its output
// unless it fails or `--foreground-scripts` is given. A source build takes minutes, so what this
// script says about it (that it is building, how long that takes, that it is still going, how
// long it took) also goes to the terminal (/dev/tty) when stderr is not one; cargo's own output
// stays behind npm's curtain (`npm install --foreground-scripts` shows it).
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { addonFileName, cargoArtifact } = require('./platform.js')

const root = path.resolve(__dirname, '..')
const log = (m) => process.stderr.write(`[taskforce-fine-tune] ${m}\n`)

/** The user's terminal when npm hides stderr (no terminal, e.g. in CI: null). */
const terminal = (() => {
  if (process.stderr.isTTY || process.platform === 'win32') return null
  try {
    return fs.openSync('/dev/tty', 'w')
  } catch (_) {
    return null
  }
})()

/** `log`, and the same line on the terminal when npm hides stderr. */
function say(m) {
  log(m)
  if (terminal !== null) {
    try {
      fs.writeSync(terminal, `[taskforce-fine-tune] ${m}\n`)
    } catch (_) {}
  }
}

/** "11 min 3 s" */
function duration(ms) {
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

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

/** Runs a build command; says every minute that it is still going. Exits 1 when it fails. */
async function run(cmd, args, started, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`)
  const timer = setInterval(() => say(`still building (${duration(Date.now() - started)} so far)…`), 60_000)
  const code = await new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', ...opts })
    child.on('error', (e) => resolve(e.message))
    child.on('exit', (status, signal) => resolve(status ?? signal))
  }).finally(() => clearInterval(timer))
  if (code !== 0) {
    say(`the build failed (${cmd} exited with ${code}) after ${duration(Date.now() - started)}; see its output above`)
    process.exit(1)
  }
}

async function build(started) {
  const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  if (fs.existsSync(napiCli)) {
    // A checkout or a git install (npm installs the dev dependencies there): the project's own build.
    await run(process.execPath, [path.join(__dirname, 'build.js'), '--release'], started, { shell: false })
    return
  }
  // An installed package: cargo alone, then the cdylib goes where the generated loader looks first.
  const ownTarget = !process.env.CARGO_TARGET_DIR
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
  await run('cargo', ['build', '--release', '--locked', '-p', 'taskforce-fine-tune'], started, {
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  })
  fs.copyFileSync(cargoArtifact(targetDir), path.join(root, addonFileName()))
  if (ownTarget) fs.rmSync(targetDir, { recursive: true, force: true })
}

/**
 * Whether npm is preparing this package as a git dependency: it runs `npm install` in a clone
 * (with `_PACOTE_NO_PREPARE_` set), then packs the clone by its `files`, which leave any `.node`
 * out, and installs that tarball, running this script again there. Building in the clone would
 * build twice.
 */
function preparingGitDependency() {
  return !!process.env._PACOTE_NO_PREPARE_ && !!process.env.INIT_CWD && path.resolve(process.env.INIT_CWD) === root
}

async function main() {
  const before = loadError()
  if (before === null) return
  if (process.env.FT_SKIP_INSTALL_BUILD === '1') {
    log('FT_SKIP_INSTALL_BUILD=1: not building the addon')
    return
  }
  if (preparingGitDependency()) {
    log('installed from git: npm is preparing a clone it then packs, without any .node (package.json "files");')
    log('the addon is built once, when the package is installed in place')
    return
  }
  if (!fs.existsSync(path.join(root, 'Cargo.toml')) || !hasCargo()) {
    log(before)
    if (fs.existsSync(path.join(root, 'Cargo.toml'))) {
      say('no prebuilt addon loads here and cargo is not on the PATH, so it was not built from source;')
      say('require("taskforce-fine-tune") will say why and what to do (install Rust, then npm rebuild taskforce-fine-tune)')
    }
    return
  }
  const started = Date.now()
  // Why the prebuilt addon did not load (the loader's reasons), without the ways out: this is one.
  const lines = before.split('\n')
  const said = lines.indexOf('The loader said:')
  const ways = lines.indexOf('Two ways out:')
  if (said >= 0 && ways > said) log(`${lines[0]}\n${lines.slice(said, ways).join('\n')}`)
  say(`no prebuilt addon loads on this platform: building ${addonFileName()} from source with cargo.`)
  say('A release build takes a few minutes on a fast machine, about 11 on 2 cores;')
  say('npm hides the compiler output unless you install with --foreground-scripts.')
  await build(started)
  const after = loadError()
  if (after !== null) {
    say(`built in ${duration(Date.now() - started)}, but it still does not load:\n${after}`)
    process.exit(1)
  }
  say(`built ${addonFileName()} in ${duration(Date.now() - started)}`)
}

main().finally(() => {
  if (terminal !== null) fs.closeSync(terminal)
})
