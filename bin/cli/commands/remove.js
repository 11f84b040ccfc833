'use strict'
// fine-tune remove: removes a modelKey from the registry (and its models at the API).

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [modelKey] = positionals
  const opts = { registryPath: registryPathOf(values), ...connectionOptions(values) }
  if (values['delete-remote']) opts.deleteRemote = true
  const r = await ft().removeRegisteredModel(modelKey, opts)
  if (state.json) jsonLine({ type: 'removed', ...r })
  else out(`removed ${modelKey} (${r.models.join(', ')})${r.deletedRemote.length ? `; deleted at the API: ${r.deletedRemote.join(', ')}` : ''}`)
  return EXIT.OK
}

module.exports = {
  summary: 'remove a modelKey from the registry',
  usage: ['fine-tune remove <modelKey> [--delete-remote] [--registry-path FILE] [connection options] [--json]'],
  description: 'Removes the entry; with --delete-remote, first deletes its fine-tuned models at the API.',
  flags: () => ({
    'delete-remote': { type: 'boolean', help: 'also DELETE /v1/models/{model} for each version' },
    ...registryFlag(),
    ...connectionFlags(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
