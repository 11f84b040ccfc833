#!/usr/bin/env node
// `npm run build` (release) and `npm run build:debug`: `napi build --platform` with the names this
// package uses (the generated loader is `binding.js`, wrapped by the hand-written `index.js`; the
// types are `index.d.ts`), and extra arguments passed through (`--target`, `-x`…).
//
// On a Linux glibc host with no `--target` given, it builds with zig through cargo-zigbuild for
// glibc 2.17 (`--target <host>.2.17 -x`) when both are there (`zig` on the PATH or Python's
// `ziglang` package, and `cargo zigbuild`), so the addon loads on any glibc from 2.17 on, as the
// published ones do (`npm run check:portable`). Without them it builds with plain cargo, which
// links against this machine's glibc, and says so. FT_ZIG=0 forces the plain build, FT_ZIG=1
// makes a missing zig an error.
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { isMusl } = require('./platform.js')

const root = path.resolve(__dirname, '..')
const args = process.argv.slice(2)
const quiet = { stdio: 'ignore', shell: process.platform === 'win32' }
const ok = (cmd, a) => {
  try {
    return spawnSync(cmd, a, quiet).status === 0
  } catch (_) {
    return false
  }
}

function zigAvailable() {
  return ok('zig', ['version']) || ok('python3', ['-m', 'ziglang', 'version']) || ok('python', ['-m', 'ziglang', 'version'])
}

const explicitTarget = args.some((a) => a === '--target' || a === '-t' || a.startsWith('--target='))
const napiArgs = ['build', '--platform', '--js', 'binding.js', '--dts', 'index.d.ts', ...args]

if (!explicitTarget && process.platform === 'linux' && !isMusl() && process.env.FT_ZIG !== '0') {
  const triple = { x64: 'x86_64-unknown-linux-gnu', arm64: 'aarch64-unknown-linux-gnu' }[process.arch]
  const zig = zigAvailable()
  const zigbuild = ok('cargo', ['zigbuild', '--help'])
  if (triple && zig && zigbuild) {
    napiArgs.push('--target', `${triple}.2.17`, '--cross-compile')
  } else if (process.env.FT_ZIG === '1') {
    console.error(`[build] FT_ZIG=1 but ${zig ? '' : 'zig (pip install ziglang) '}${zigbuild ? '' : 'cargo-zigbuild (pip install cargo-zigbuild)'} is missing`)
    process.exit(1)
  } else {
    console.error(
      '[build] zig or cargo-zigbuild not found: building with plain cargo, so the addon needs this machine\'s glibc ' +
        'or later (`npm run check:portable` fails). For a glibc 2.17 build: pip install ziglang cargo-zigbuild',
    )
  }
}

const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
console.error(`[build] napi ${napiArgs.join(' ')}`)
const r = spawnSync(process.execPath, [napi, ...napiArgs], { cwd: root, stdio: 'inherit' })
process.exit(r.status === null ? 1 : r.status)
