'use strict'
// fine-tune promote: makes one version the model of a modelKey.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, JSON_FLAG, HELP_FLAG, registryPathOf } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey, model] = positionals
  // `await`: the call returns a promise once registry writes wait for the lock off the JS thread.
  const before = await ft().promoteModelVersion(modelKey, model, { registryPath: registryPathOf(values) })
  if (state.json) jsonLine({ type: 'promoted', modelKey, model, previousModel: before })
  else out(`${modelKey} now resolves to ${model} (was ${before})`)
  return EXIT.OK
}

module.exports = {
  summary: 'make a version the model of a modelKey',
  usage: ['fine-tune promote <modelKey> <model> [--registry-path FILE] [--json]'],
  description: 'Makes the version <model> of modelKey the model agents get.',
  flags: () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 2,
  positionalNames: ['modelKey', 'model'],
  run,
}
