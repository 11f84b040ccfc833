'use strict'
// fine-tune rollback: goes back to the model a modelKey had before its last promotion.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, JSON_FLAG, HELP_FLAG, registryPathOf } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  // `await`: the call returns a promise once registry writes wait for the lock off the JS thread.
  const now = await ft().rollbackModel(modelKey, { registryPath: registryPathOf(values) })
  if (state.json) jsonLine({ type: 'rolledBack', modelKey, model: now })
  else out(`${modelKey} now resolves to ${now}`)
  return EXIT.OK
}

module.exports = {
  summary: 'go back to the previous model of a modelKey',
  usage: ['fine-tune rollback <modelKey> [--registry-path FILE] [--json]'],
  description: 'Makes the model the key resolved to before its last promotion current again.',
  flags: () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
