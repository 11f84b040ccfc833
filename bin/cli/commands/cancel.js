'use strict'
// fine-tune cancel: cancels the run in flight of a modelKey and its OpenAI job.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  const jobId = await ft().cancelFineTune(modelKey, { registryPath: registryPathOf(values), ...connectionOptions(values) })
  if (state.json) jsonLine({ type: 'cancelled', modelKey, jobId: jobId ?? null })
  else out(jobId ? `cancelled ${modelKey}: job ${jobId}` : `cancelled ${modelKey} (no job had been created)`)
  return EXIT.OK
}

module.exports = {
  summary: 'cancel the run in flight of a modelKey',
  usage: ['fine-tune cancel <modelKey> [--registry-path FILE] [connection options] [--json]'],
  description: `Cancels the OpenAI job of an interrupted, aborted or timed-out run and clears its journal entry.
ERR_NOT_FOUND (exit 2) when no run of modelKey is in flight.`,
  flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
