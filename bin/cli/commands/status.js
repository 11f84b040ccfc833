'use strict'
// fine-tune status: the runs in flight, and with a modelKey its job's current status.

const path = require('node:path')
const { ft } = require('../addon')
const { EXIT, cliError } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions } = require('../options')
const { state, out, err, jsonLine, table, fmtTime } = require('../render')

function registeredEntry(modelKey, registryPath) {
  try {
    return ft().getRegisteredModel(modelKey, { registryPath })
  } catch (_) {
    return null
  }
}

function printRun(r) {
  out(r.modelKey)
  const rows = [
    ['runId', r.runId ?? '-'],
    ['agentName', r.agentName ?? '-'],
    ['baseModel', r.baseModel ?? '-'],
    ['jobId', r.jobId ?? (r.jobRequested ? '(requested, answer not received)' : '(no job yet)')],
    ['trainingFileId', r.trainingFileId ?? '-'],
  ]
  if (r.validationFileId) rows.push(['validationFileId', r.validationFileId])
  rows.push(['startedAt', fmtTime(r.startedAt)])
  if (r.baseUrl) rows.push(['baseUrl', r.baseUrl])
  const job = r.job
  if (job) {
    rows.push(['job status', job.status ?? '-'])
    if (job.fineTunedModel) rows.push(['fineTunedModel', job.fineTunedModel])
    if (job.trainedTokens) rows.push(['trainedTokens', String(job.trainedTokens)])
    if (job.estimatedFinish) rows.push(['estimated finish', fmtTime(job.estimatedFinish)])
    if (job.error && job.error.message) rows.push(['job error', `${job.error.code ? `${job.error.code}: ` : ''}${job.error.message}`])
  }
  out(table(rows))
}

async function run({ values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  let runs = ft().listInFlightRuns({ registryPath })
  if (modelKey !== undefined) runs = runs.filter((r) => r.modelKey === modelKey)

  if (modelKey !== undefined && runs.length === 0) {
    const entry = registeredEntry(modelKey, registryPath)
    if (!entry) throw cliError('ERR_NOT_FOUND', `no run for modelKey ${JSON.stringify(modelKey)} is in flight, and it is not registered in ${registryPath}`)
    if (state.json) jsonLine([])
    else out(`${modelKey}: no run in flight; registered as ${entry.model && entry.model.name} in ${registryPath}`)
    return EXIT.OK
  }

  // With a modelKey, ask the API about its job (without a base URL, the core asks the run's own API).
  let apiError
  if (modelKey !== undefined && runs[0].jobId) {
    try {
      runs[0] = { ...runs[0], job: await ft().getFineTuneJob(modelKey, { registryPath, ...connectionOptions(values) }) }
    } catch (e) {
      if (e && e.code === 'ERR_MISSING_API_KEY' && !state.json) {
        err(`(no API key: set OPENAI_API_KEY or pass --api-key to see the job's current status)`)
      } else apiError = e
    }
  }

  if (state.json) {
    jsonLine(runs)
  } else if (runs.length === 0) {
    out(`no runs in flight (${path.join(path.dirname(registryPath), '.runs')})`)
  } else {
    for (const r of runs) printRun(r)
    out(`Resume a run with the same "fine-tune train" options, or cancel it with "fine-tune cancel <modelKey>".`)
  }
  if (apiError) throw apiError
  return EXIT.OK
}

module.exports = {
  summary: 'show the runs in flight (interrupted, aborted or still running)',
  usage: ['fine-tune status [modelKey] [--registry-path FILE] [connection options] [--json]'],
  description: `Lists the runs journaled beside the registry (<registry dir>/.runs/). With a modelKey whose
run has a job, also asks the API for the job's current status (connection flags or env; the
base URL defaults to the one the run used).`,
  flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
  positionals: [0, 1],
  positionalNames: ['modelKey'],
  run,
}
