'use strict'
// fine-tune pause: pauses the job of a run in flight (or of a job id).

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  const job = await ft().pauseFineTune(modelKey, { registryPath: registryPathOf(values), ...connectionOptions(values) })
  if (state.json) jsonLine({ type: 'paused', modelKey, job })
  else out(`paused ${modelKey}: job ${job.id} is ${job.status}`)
  return EXIT.OK
}

module.exports = {
  summary: 'pause the fine-tuning job of a modelKey (or job id)',
  usage: ['fine-tune pause <modelKey|jobId> [--registry-path FILE] [connection options] [--json]'],
  description: 'Pauses the running job of a run in flight (or of a job id). A train command waiting for it keeps waiting.',
  flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
