'use strict'
// fine-tune doctor: when does every registered model stop answering? (for CI)

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions, numberFlag, without } = require('../options')
const { state, out, jsonLine, stopsLine } = require('../render')

async function run({ values }) {
  const registryPath = registryPathOf(values)
  const withinDays = numberFlag(values, 'within-days')
  const checks = await ft().checkRegisteredModels(without({ registryPath, ...connectionOptions(values), withinDays }))
  const failing = checks.filter((c) => c.failing)
  if (state.json) {
    jsonLine({ type: 'doctor', registryPath, ok: failing.length === 0, models: checks })
  } else if (checks.length === 0) {
    out(`no models registered in ${registryPath}`)
  } else {
    for (const c of checks) {
      out(`${c.failing ? '✗' : '✓'} ${c.modelKey}: ${c.model.name} (base ${c.baseModel}): ${stopsLine(c.stopsAnswering)}${c.refreshed ? '' : ' [recorded date; not re-read from the API]'}`)
      for (const n of c.notes) out(`    note: ${n}`)
    }
    out(failing.length ? `${failing.length} model(s) stop answering within ${withinDays ?? 90} days or already have` : 'all models keep answering beyond the window')
  }
  return failing.length ? EXIT.DOCTOR : EXIT.OK
}

module.exports = {
  summary: 'check when every registered model stops answering (for CI)',
  usage: ['fine-tune doctor [--within-days N] [--registry-path FILE] [connection options] [--json]'],
  description: `Re-reads from the API the shutdown date of every registered model's base model
(GET /models/{model}: shutdown_date; Azure: its models list) and prints, for each, whether and
when it stops answering: its base model's shutdown, a Developer-tier Azure deployment's 24-hour
life, or an Azure model that was never deployed. Exits 5 when any model is past its date or
within --within-days (default 90) of it, so that CI fails before agents do. Without an API key
the recorded dates (baseShutdownDate) are used.`,
  flags: () => ({
    'within-days': { type: 'string', arg: 'N', help: 'fail for models stopping within N days (default 90)' },
    ...registryFlag(),
    ...connectionFlags(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 0,
  run,
}
