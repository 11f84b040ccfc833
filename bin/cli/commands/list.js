'use strict'
// fine-tune list: the registered models.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, JSON_FLAG, HELP_FLAG, registryPathOf, without } = require('../options')
const { state, out, jsonLine, columns, fmtTime, stopsLine } = require('../render')

async function run({ values }) {
  const registryPath = registryPathOf(values)
  const agentName = values['agent-name']
  const entries = ft().listRegisteredModels(without({ agentName, registryPath }))
  if (state.json) {
    jsonLine(entries)
    return EXIT.OK
  }
  if (entries.length === 0) {
    out(`no models registered${agentName ? ` for agent ${agentName}` : ''} in ${registryPath}`)
    return EXIT.OK
  }
  const rows = entries.map((e) => {
    const f = e.fineTune || {}
    return [e.modelKey, (e.model && e.model.name) || '-', f.agentName || '-', fmtTime(f.finishedAt), stopsLine(e.stopsAnswering)]
  })
  out(columns(['MODEL KEY', 'MODEL', 'AGENT', 'FINISHED', 'STOPS ANSWERING'], rows))
  return EXIT.OK
}

module.exports = {
  summary: 'list the registered models',
  usage: ['fine-tune list [--agent-name NAME] [--registry-path FILE] [--json]'],
  description: 'Lists the models in the registry, in registry order, with when each stops answering.',
  flags: () => ({
    'agent-name': { type: 'string', arg: 'NAME', help: 'only the models of this agent' },
    ...registryFlag(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 0,
  run,
}
