'use strict'
// fine-tune train: the pipeline, with live progress, then the registered model.

const { ft } = require('../addon')
const { EXIT } = require('../errors')
const { optionFlags, JSON_FLAG, HELP_FLAG, trainOptions, without } = require('../options')
const { state, out, err, jsonLine, table, scalar, verdictLine, notBetterReason, progressPrinter } = require('../render')

/** Why a run's model was not promoted, in words. */
function notPromotedReason(model) {
  if (model.evaluationError) return `the evaluation did not run (${model.evaluationError})`
  if (model.evaluation && !model.evaluation.better) return `not better than ${model.evaluation.baseline}: ${notBetterReason(model.evaluation)}`
  return 'promote is ifBetter and no evaluation said better'
}

function printSummary(model) {
  out(`Registered ${model.modelKey}`)
  const rows = [
    ['modelKey', model.modelKey],
    ['fineTunedModel', model.fineTunedModel],
    ['jobId', model.jobId],
    ['registry', model.registryPath],
  ]
  // An Azure deployment: the model an agent's client sends, and where.
  if (model.model && model.model.name !== model.fineTunedModel) rows.push(['model', model.model.name])
  if (model.model && model.model.baseUrl) rows.push(['baseUrl', model.model.baseUrl])
  if (model.curvePath) rows.push(['curve', model.curvePath])
  if (model.trainedTokens != null) rows.push(['trainedTokens', String(model.trainedTokens)])
  if (model.evaluation) rows.push(['evaluation', verdictLine(model.evaluation)])
  else if (model.evaluationError) rows.push(['evaluation', `not run: ${model.evaluationError}`])
  rows.push(['promoted', model.promoted === false ? 'no' : 'yes'])
  out(table(rows))
  if (model.metrics && typeof model.metrics === 'object') {
    out('  metrics:')
    out(table(Object.entries(model.metrics).map(([k, v]) => [k, scalar(v, k)]), '    '))
  }
  if (model.promoted === false) {
    out(`not promoted: ${notPromotedReason(model)}`)
    if (model.previousModel) {
      out(`${model.modelKey} still resolves to ${model.previousModel}; make this version current with`)
      out(`  fine-tune promote ${model.modelKey} ${model.fineTunedModel}`)
    }
  }
}

async function run({ values }) {
  const opts = trainOptions(values)
  const progress = progressPrinter('checking data')
  const controller = new AbortController()
  let signals = 0
  const onSignal = (sig) => {
    signals++
    progress.stop()
    if (signals > 1) {
      err(`\n${sig} again: exiting now.`)
      process.exit(EXIT.ABORTED)
    }
    err(
      opts.cancelOnAbort
        ? `\n${sig}: aborting and cancelling the OpenAI job… (press Ctrl-C again to exit at once)`
        : `\n${sig}: aborting. The job keeps running and stays journaled: run the same "fine-tune train" command again to resume it, or "fine-tune cancel ${opts.modelKey ?? '<modelKey>'}" to cancel it.`,
    )
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let model
  try {
    // Every progress event has been delivered when the promise settles.
    model = await ft().trainAndRegisterFineTunedModel({ ...opts, signal: controller.signal, onProgress: progress.onProgress })
  } finally {
    progress.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  if (state.json) jsonLine(without({ type: 'result', ...model }))
  else printSummary(model)
  return EXIT.OK
}

module.exports = {
  summary: 'fine-tune a model and register it',
  usage: [
    'fine-tune train --agent-name NAME --model-key KEY --base-model MODEL --source FILE|URL [options]',
    'fine-tune train --config FILE.json [options]',
  ],
  description: `Checks the data, uploads it, starts an OpenAI fine-tuning job, follows it and registers the
fine-tuned model under --model-key in the registry. In a terminal it shows a live progress line;
piped, it prints one line of text per event on stderr; with --json, one JSON object per event on
stdout, then {"type":"result",…}. The registered model is printed on stdout at the end. With
--evaluate and --promote ifBetter, a version that is not better stays registered but not current:
the summary says "not promoted" and why.

Ctrl-C (or SIGTERM) stops waiting: the job keeps running and stays journaled, and running the
same command again resumes it (no new upload, no new job). With --cancel-on-abort the OpenAI job
is cancelled instead. A second Ctrl-C exits at once.

--config reads the same options from a JSON object with their camelCase names (agentName,
modelKey, baseModel, source, validation, suffix, registryPath, pollIntervalMs, nEpochs or
hyperparameters, metadata, integrations, evaluate…: every option below); relative paths in it
are relative to the file. Flags override it. --evaluate alone evaluates with the defaults;
--evaluate '{"maxExamples":50,"graders":["exact"]}' takes the settings of "fine-tune eval".`,
  flags: () => ({
    config: { type: 'string', arg: 'FILE', help: 'read the options from a JSON file (flags override)' },
    ...optionFlags(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 0,
  run,
}
