'use strict'
// fine-tune resume: resumes a paused job.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  const job = await ft().resumeFineTune(modelKey, { registryPath: registryPathOf(values), ...connectionOptions(values) })
  if (state.json) jsonLine({ type: 'resumed', modelKey, job })
  else out(`resumed ${modelKey}: job ${job.id} is ${job.status}`)
  return EXIT.OK
}

module.exports = {
  summary: 'resume a paused fine-tuning job',
  usage: ['fine-tune resume <modelKey|jobId> [--registry-path FILE] [connection options] [--json]'],
  description: 'Resumes the paused job of a run in flight (or of a job id).',
  flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
