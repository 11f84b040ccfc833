'use strict'
// fine-tune validate: checks a data file as train does, without uploading it.

const { ft } = require('../addon')
const { EXIT, cliError } = require('../errors')
const { JSON_FLAG, HELP_FLAG, numberFlag, without } = require('../options')
const { state, out, jsonLine, table, fmtBytes, fmtNum, fmtUsd, issueLine } = require('../render')

function printReport(source, r) {
  if (!r || typeof r !== 'object') {
    out(String(r))
    return
  }
  out(`${source}: ${r.valid === false ? 'INVALID' : 'valid'}`)
  const rows = []
  if (r.format) rows.push(['format', `${r.format}${r.method ? ` (${r.method})` : ''}`])
  if (r.baseModel || r.modelFamily) rows.push(['base model', `${r.baseModel ?? '-'}${r.modelFamily ? ` (${r.modelFamily})` : ''}`])
  if (r.examples !== undefined) rows.push(['examples', String(r.examples)])
  if (r.lines !== undefined) rows.push(['lines', String(r.lines)])
  if (r.bytes !== undefined) rows.push(['size', fmtBytes(r.bytes)])
  const t = r.tokens
  if (t && typeof t === 'object') {
    rows.push(['tokens / example', `min ${t.min}, median ${fmtNum(t.median, 1)}, p90 ${fmtNum(t.p90, 1)}, max ${t.max}${r.contextLimit ? ` (limit ${r.contextLimit})` : ''}`])
    rows.push(['tokens total', `${t.total}${t.assistantTotal !== undefined ? ` (assistant ${t.assistantTotal})` : ''}`])
  }
  if (r.epochs !== undefined) rows.push(['epochs', `${r.epochs}${r.defaultEpochs !== undefined && r.defaultEpochs !== r.epochs ? ` (default ${r.defaultEpochs})` : ''}`])
  if (r.estimatedBilledTokens !== undefined) rows.push(['billed tokens (est.)', String(r.estimatedBilledTokens)])
  if (r.estimatedCostUsd !== undefined && r.estimatedCostUsd !== null) {
    rows.push(['cost (est.)', `$${fmtUsd(r.estimatedCostUsd)}${r.priceDate ? ` (prices of ${r.priceDate})` : ''}`])
  } else if (r.priceNote) {
    rows.push(['cost (est.)', r.priceNote])
  }
  if (rows.length) out(table(rows))
  for (const [title, list] of [['errors', r.errors], ['warnings', r.warnings]]) {
    if (!Array.isArray(list) || !list.length) continue
    out(`${title}:`)
    for (const i of list) out(`  - ${issueLine(i)}`)
  }
}

async function run({ values, positionals }) {
  const { validateTrainingData } = ft()
  if (typeof validateTrainingData !== 'function') {
    throw cliError(
      'ERR_NOT_SUPPORTED',
      'this build of taskforce-fine-tune does not export validateTrainingData, so "fine-tune validate" is not available (train still checks the data before uploading anything)',
    )
  }
  const [source] = positionals
  const opts = without({
    baseModel: values['base-model'],
    method: values.method,
    nEpochs: numberFlag(values, 'n-epochs'),
    pricePerMillionTokens: numberFlag(values, 'price-per-million-tokens'),
    maxDownloadBytes: numberFlag(values, 'max-download-bytes'),
  })
  let report
  try {
    report = await validateTrainingData(source, opts)
  } catch (e) {
    if (e && e.report && !state.json) printReport(source, e.report)
    throw e
  }
  if (state.json) jsonLine(report)
  else printReport(source, report)
  if (report && report.valid === false) {
    const n = Array.isArray(report.errors) ? report.errors.length : 0
    throw cliError('ERR_INVALID_TRAINING_DATA', `${source}: the data has ${n} kind${n === 1 ? '' : 's'} of error (see the report)`)
  }
  return EXIT.OK
}

module.exports = {
  summary: 'check training data without uploading it',
  usage: ['fine-tune validate <source> [--base-model MODEL] [--method supervised|dpo] [--json]'],
  description: `Checks a .jsonl file (or URL) the way train does before uploading: format, roles, token
counts against the base model's context, and an estimate of the billed tokens. Exits 2 when the
data has errors.`,
  flags: () => ({
    'base-model': { type: 'string', arg: 'MODEL', help: 'check token limits and price for this base model' },
    method: { type: 'string', arg: 'METHOD', help: 'supervised (default) or dpo' },
    'n-epochs': { type: 'string', arg: 'N', help: "epochs for the cost estimate (default: OpenAI's rule)" },
    'price-per-million-tokens': { type: 'string', arg: 'USD', help: 'training price for the estimate (default: the built-in table)' },
    'max-download-bytes': { type: 'string', arg: 'N', help: 'size cap of URL sources (default 1 GiB)' },
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 1,
  positionalNames: ['source'],
  run,
}
