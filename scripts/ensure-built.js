#!/usr/bin/env node
// Makes `npm run demo`, `npm test` and `npm run bench` work on a fresh clone:
// installs the npm dev dependencies when they are missing and (re)builds the
// native addon when it is missing or older than its Rust sources (scripts/build.js: with zig for
// glibc 2.17 when zig and cargo-zigbuild are there, as in CI).
// FT_EXPECT_BUILT=1 (set by .ci/run, which builds the addon once, in `npm ci`): a missing or stale
// addon is an error instead of a second build.
'use strict'
const { execSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })

if (!fs.existsSync(path.join(root, 'node_modules', '@napi-rs', 'cli'))) {
  console.error('[ensure-built] installing npm dependencies (npm ci)…')
  run(fs.existsSync(path.join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund')
}

function newestMtime(dir) {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'target' || entry.name.startsWith('.')) continue
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p))
    else if (/\.(rs|toml)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs)
  }
  return newest
}

const addon = fs.readdirSync(root).find((f) => /^fine-tune\..*\.node$/.test(f))
const sources = Math.max(
  newestMtime(path.join(root, 'src')),
  newestMtime(path.join(root, 'crates')),
  fs.statSync(path.join(root, 'Cargo.toml')).mtimeMs,
  fs.statSync(path.join(root, 'Cargo.lock')).mtimeMs,
)
if (!addon || fs.statSync(path.join(root, addon)).mtimeMs < sources) {
  const why = addon ? `${addon} is older than the Rust sources` : 'no native addon is built'
  if (process.env.FT_EXPECT_BUILT === '1') {
    console.error(`[ensure-built] FT_EXPECT_BUILT=1 but ${why}: not building it again`)
    process.exit(1)
  }
  console.error(`[ensure-built] ${why}: building it (npm run build)…`)
  run('node scripts/build.js --release')
} else {
  console.error(`[ensure-built] ${addon} is up to date with the Rust sources: not rebuilt`)
}
