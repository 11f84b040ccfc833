'use strict'
// fine-tune show: one registered model, its metrics and its loss curve.

const fs = require('node:fs')
const path = require('node:path')
const { ft } = require('../addon')
const { EXIT, cliError } = require('../errors')
const { registryFlag, JSON_FLAG, HELP_FLAG, registryPathOf, without } = require('../options')
const { state, out, jsonLine, table, tree, verdictLine } = require('../render')

/** The entry's loss curve (`fineTune.lossCurve`, a file beside the registry), when it exists. */
function curvePathOf(entry, registryPath) {
  const name = entry.fineTune && entry.fineTune.lossCurve
  if (typeof name !== 'string' || !name) return undefined
  const p = path.resolve(path.dirname(registryPath), name)
  return fs.existsSync(p) ? p : undefined
}

async function run({ values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  const entry = ft().getRegisteredModel(modelKey, { registryPath })
  if (!entry) throw cliError('ERR_NOT_FOUND', `modelKey ${JSON.stringify(modelKey)} is not registered in ${registryPath}`)
  const curvePath = curvePathOf(entry, registryPath)
  if (state.json) {
    jsonLine(without({ ...entry, registryPath, curvePath }))
    return EXIT.OK
  }
  out(entry.modelKey)
  const m = entry.model || {}
  out(table([
    ['model', m.name ?? '-'],
    ['provider', m.provider ?? '-'],
    ['supportsTools', String(m.supportsTools)],
    ['maxContextTokens', String(m.maxContextTokens)],
    ['registry', registryPath],
  ]))
  const f = entry.fineTune
  if (f && typeof f === 'object') {
    const { metrics, evaluation, ...rest } = f
    out('fine-tune:')
    // The evaluation in one line (the whole report is in --json).
    if (evaluation && typeof evaluation === 'object' && Array.isArray(evaluation.graders)) rest.evaluation = verdictLine(evaluation)
    else if (evaluation) rest.evaluation = evaluation
    out(tree(rest))
    if (metrics && typeof metrics === 'object') {
      out('metrics:')
      out(tree(metrics))
    }
  }
  out(`curve: ${curvePath ?? '(none)'}`)
  return EXIT.OK
}

module.exports = {
  summary: 'show one registered model, its metrics and its loss curve',
  usage: ['fine-tune show <modelKey> [--registry-path FILE] [--json]'],
  description: 'Shows the registry entry of modelKey, its training metrics and the path of its loss curve (SVG).',
  flags: () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
