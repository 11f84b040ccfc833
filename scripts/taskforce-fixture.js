#!/usr/bin/env node
// Installs the real TaskForce (npm `taskforce-aiagent`, pinned) once into .cache/taskforce-<version>,
// for the tests that run a TaskForce agent against the emulator. It is not a devDependency: its
// tree is 1.1 GB (langchain, puppeteer, chromadb…) and puppeteer's install script downloads a
// browser, so it is installed apart, with install scripts off, and only when a test asks for it.
// Prints the folder that holds node_modules/taskforce-aiagent.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const VERSION = '1.0.15'
const dir = path.resolve(__dirname, '..', '.cache', `taskforce-${VERSION}`)

function ensureTaskForce() {
  const marker = path.join(dir, 'node_modules', 'taskforce-aiagent', 'package.json')
  if (fs.existsSync(marker) && JSON.parse(fs.readFileSync(marker, 'utf8')).version === VERSION) return dir
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'taskforce-fixture', private: true }))
  process.stderr.write(`[taskforce-fixture] installing taskforce-aiagent@${VERSION} into ${dir} (once; about 2 minutes)\n`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', `taskforce-aiagent@${VERSION}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
  })
  return dir
}

module.exports = { ensureTaskForce, TASKFORCE_VERSION: VERSION }
if (require.main === module) console.log(ensureTaskForce())
