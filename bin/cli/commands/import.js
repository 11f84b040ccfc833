'use strict'
// fine-tune import: registers a fine-tuning job started elsewhere.

const { ft } = require('../addon')
const { EXIT, cliError } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions, without } = require('../options')
const { state, out, jsonLine } = require('../render')

async function run({ values, positionals }) {
  const [jobId] = positionals
  const missing = ['agent-name', 'model-key'].filter((f) => !values[f])
  if (missing.length) throw cliError('ERR_MISSING_OPTION', `import needs ${missing.map((f) => `--${f}`).join(' and ')}`)
  const m = await ft().importFineTuneJob(
    jobId,
    without({
      agentName: values['agent-name'],
      modelKey: values['model-key'],
      onExisting: values['on-existing'],
      registryPath: registryPathOf(values),
      ...connectionOptions(values),
    }),
  )
  if (state.json) jsonLine({ type: 'result', ...m })
  else out(`registered ${m.modelKey}: ${m.fineTunedModel} (job ${m.jobId})`)
  return EXIT.OK
}

module.exports = {
  summary: 'register a fine-tuning job started elsewhere',
  usage: ['fine-tune import <jobId> --agent-name NAME --model-key KEY [--on-existing newVersion] [--json]'],
  description: `Registers a succeeded job. A job that is still running is refused with ERR_JOB_NOT_FINISHED,
a failed or cancelled one with ERR_JOB_FAILED or ERR_JOB_CANCELLED (exit 4).`,
  flags: () => ({
    'agent-name': { type: 'string', arg: 'NAME', help: 'the agent the model is for' },
    'model-key': { type: 'string', arg: 'KEY', help: 'the key to register it under' },
    'on-existing': { type: 'string', arg: 'error|newVersion', help: 'when the key is registered: refuse (default) or add a version' },
    ...registryFlag(),
    ...connectionFlags(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 1,
  positionalNames: ['jobId'],
  run,
}
