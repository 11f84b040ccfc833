// Which platform package this machine needs, as napi-rs names them (`linux-x64-gnu`,
// `darwin-arm64`, `win32-x64-msvc`…). Used by index.js (its load error) and the install script.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

/** The platform ids of the prebuilt packages: the `npm/<id>` folders this package publishes. */
const SUPPORTED = Object.keys(require('../package.json').optionalDependencies || {}).map((n) =>
  n.replace(/^taskforce-fine-tune-/, ''),
)

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  if (report && report.header && report.header.glibcVersionRuntime) return false
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch (_) {
    return !!(report && Array.isArray(report.sharedObjects) && report.sharedObjects.some((f) => /ld-musl-|libc\.musl-/.test(f)))
  }
}

function glibcVersion() {
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  return (report && report.header && report.header.glibcVersionRuntime) || null
}

/** napi-rs's platform id of this process. */
function platformId() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : arch === 'arm' ? 'gnueabihf' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** "linux-x64 (glibc 2.31), Node 20.20.2" */
function describeHost() {
  let libc = ''
  if (process.platform === 'linux') {
    const g = glibcVersion()
    libc = g ? ` (glibc ${g})` : isMusl() ? ' (musl)' : ''
  }
  return `${process.platform}-${process.arch}${libc}, Node ${process.versions.node}`
}

/** The file name `napi build --platform` gives the addon of this platform. */
function addonFileName() {
  return `fine-tune.${platformId()}.node`
}

/** The cdylib cargo writes for this crate on this platform. */
function cargoArtifact(targetDir, profile = 'release') {
  const file =
    process.platform === 'win32'
      ? 'taskforce_fine_tune.dll'
      : process.platform === 'darwin'
        ? 'libtaskforce_fine_tune.dylib'
        : 'libtaskforce_fine_tune.so'
  return path.join(targetDir, profile, file)
}

module.exports = { SUPPORTED, isMusl, glibcVersion, platformId, describeHost, addonFileName, cargoArtifact }
