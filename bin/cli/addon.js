'use strict'
// The package's exports, loaded on first use: `--help` and usage errors never need the addon.

const { EXIT } = require('./errors')

let lib
let loadError

function load() {
  if (!lib && !loadError) {
    try {
      lib = require('../..')
    } catch (e) {
      loadError = e
    }
  }
  return lib
}

/** The package's exports; without an addon for this platform, says why and exits 1. */
function ft() {
  if (!load()) {
    // The package's message says what was looked for and what to do.
    const e = loadError
    process.stderr.write(`error [${(e && e.code) || 'ERR_NATIVE_ADDON_NOT_LOADED'}]: ${e && e.message}\n`)
    process.exit(EXIT.UNEXPECTED)
  }
  return lib
}

/** The package's exports, or `null` when they cannot load (for help texts). */
function ftIfLoadable() {
  return load() || null
}

module.exports = { ft, ftIfLoadable }
