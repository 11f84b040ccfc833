'use strict'
// fine-tune emulate: the offline OpenAI-compatible fine-tuning emulator, until Ctrl-C.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { JSON_FLAG, HELP_FLAG, numberFlag, without } = require('../options')
const { state } = require('../render')

async function run({ values }) {
  const opts = without({
    port: numberFlag(values, 'port'),
    apiKey: values['api-key'],
    jobDurationMs: numberFlag(values, 'job-duration-ms'),
    organization: values.organization,
    stateDir: values['state-dir'],
  })
  // Rejects with ERR_INVALID_OPTION (exit 2) for a bad option, a port in use included.
  const emu = await ft().startEmulator(opts)
  // The emulator's own key is printed by design (not through the redacting writers): it is
  // what clients must send.
  if (state.json) process.stdout.write(JSON.stringify({ type: 'emulator', url: emu.url, apiKey: emu.apiKey }) + '\n')
  else process.stdout.write(`OPENAI_BASE_URL=${emu.url}\nOPENAI_API_KEY=${emu.apiKey}\n`)
  process.stderr.write('emulator running; press Ctrl-C to stop\n')
  const keepAlive = setInterval(() => {}, 1 << 30)
  const sig = await new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  clearInterval(keepAlive)
  await emu.close()
  process.stderr.write(`${sig}: emulator stopped\n`)
  return EXIT.OK
}

module.exports = {
  summary: 'run the offline OpenAI-compatible fine-tuning emulator',
  usage: ['fine-tune emulate [--port N] [--api-key KEY] [--job-duration-ms N] [--state-dir DIR]'],
  description: `Starts the emulator on 127.0.0.1 and prints the two lines to use it:
  OPENAI_BASE_URL=http://127.0.0.1:PORT/v1
  OPENAI_API_KEY=KEY
It runs until Ctrl-C or SIGTERM.`,
  flags: () => ({
    port: { type: 'string', arg: 'N', help: 'port (default: a free one)' },
    'api-key': { type: 'string', arg: 'KEY', help: 'the key the emulator accepts (default sk-emulator)' },
    'job-duration-ms': { type: 'string', arg: 'N', help: 'how long a job takes (default 3000)' },
    organization: { type: 'string', arg: 'ID', help: 'the organization in model names (default org-emulator)' },
    'state-dir': { type: 'string', arg: 'DIR', help: 'keep files, jobs and models in DIR across restarts' },
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 0,
  run,
}
