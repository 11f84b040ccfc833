'use strict'
// fine-tune versions: every model a modelKey has had.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, JSON_FLAG, HELP_FLAG, registryPathOf } = require('../options')
const { state, out, jsonLine, fmtTime } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  const versions = ft().listModelVersions(modelKey, { registryPath: registryPathOf(values) })
  if (state.json) {
    jsonLine(versions)
    return EXIT.OK
  }
  for (const v of versions) {
    const ev = v.evaluation ? ` ${v.evaluation.better ? 'better' : 'not better'} than ${v.evaluation.baseline}` : ''
    out(`${v.current ? '*' : ' '} ${v.model.name}  ${v.jobId || '-'}  ${fmtTime(v.finishedAt)}${ev}`)
  }
  return EXIT.OK
}

module.exports = {
  summary: 'list the versions of a modelKey',
  usage: ['fine-tune versions <modelKey> [--registry-path FILE] [--json]'],
  description: 'Lists every model a modelKey has had, oldest first; * marks the one agents get.',
  flags: () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
