'use strict'
// The CLI's evaluation and version commands: eval, versions, promote, rollback, remove, import.
// A presenter like the rest of the CLI: it calls the package's exports and prints.

module.exports = function evalCommands(h) {
  const { ft, out, jsonLine, EXIT_OK, registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG } = h
  const state = { get json() { return h.getState().json } }
  const { registryPathOf, connection, dropUndefined, cliError, toNumber, fmtUsd, fmtNum } = h

  const GRADERS = ['exact', 'contains', 'json', 'toolCalls', 'similarity', 'judge']

  /** A live line on a terminal, one line per event when piped, JSON lines with --json. */
  function evalProgress() {
    const tty = process.stderr.isTTY && !state.json
    return (e) => {
      if (state.json) return jsonLine(e)
      if (e.type === 'evaluationStarted') {
        const cost = e.estimatedCostUsd == null ? 'unknown cost' : `~$${fmtUsd(e.estimatedCostUsd)}`
        process.stderr.write(`evaluating ${e.candidate} against ${e.baseline}: ${e.examples} examples, ${e.requests} requests, ~${e.estimatedTokens} tokens, ${cost}\n`)
      } else if (e.type === 'evaluationProgress') {
        const line = `requests ${e.done}/${e.total}`
        if (tty) process.stderr.write(`\r\x1b[2K${line}`)
        else if (e.done === e.total) process.stderr.write(line + '\n')
      } else if (e.type === 'evaluationFinished' && tty) process.stderr.write('\n')
    }
  }

  function printReport(r) {
    const head = ['GRADER', 'N', 'CANDIDATE', 'BASELINE', 'DIFF', '95% CI', 'W/T/L']
    const rows = r.graders.map((g) => [
      g.name + (g.name === r.primaryGrader ? ' *' : ''),
      String(g.examples),
      fmtNum(g.candidateMean, 3),
      fmtNum(g.baselineMean, 3),
      (g.difference >= 0 ? '+' : '') + fmtNum(g.difference, 3),
      `[${fmtNum(g.ciLow, 3)}, ${fmtNum(g.ciHigh, 3)}]`,
      `${g.wins}/${g.ties}/${g.losses}`,
    ])
    const widths = head.map((x, i) => Math.max(x.length, ...rows.map((row) => row[i].length)))
    const line = (row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
    out(`${r.candidate} vs ${r.baseline} on ${r.examples} examples (${r.data})`)
    out(line(head))
    for (const row of rows) out(line(row))
    out(`better: ${r.better ? 'yes' : 'no'} (* primary grader: ${r.primaryGrader}; 95% CI of the difference above 0)`)
    out(`tokens: ${r.usage.totalTokens}, cost: ${r.costUsd == null ? 'unknown' : `$${fmtUsd(r.costUsd)}`} (prices of ${r.priceDate})`)
    out(`answers: ${r.outputPath}`)
  }

  async function runEval({ values, positionals }) {
    const [modelKey] = positionals
    const registryPath = registryPathOf(values)
    const graders = values.grader && values.grader.length ? values.grader.flatMap((g) => g.split(',')) : undefined
    for (const g of graders || []) {
      if (!GRADERS.includes(g)) throw cliError('ERR_INVALID_OPTION', `--grader: ${JSON.stringify(g)} is not one of ${GRADERS.join(', ')}`, { param: 'grader' })
    }
    const num = (f) => (values[f] !== undefined ? toNumber(f, values[f], false) : undefined)
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      const report = await ft().evaluateModel(
        dropUndefined({
          modelKey,
          registryPath,
          ...connection(values),
          data: values.data,
          baseline: values.baseline,
          graders,
          primaryGrader: values['primary-grader'],
          judgeModel: values['judge-model'],
          concurrency: num('concurrency'),
          maxCostUsd: num('max-cost-usd'),
          maxExamples: num('max-examples'),
          seed: num('seed'),
          outputPath: values.output,
          signal: controller.signal,
          onProgress: evalProgress(),
        }),
      )
      if (state.json) jsonLine({ type: 'result', ...report })
      else printReport(report)
      return EXIT_OK
    } finally {
      process.removeListener('SIGINT', stop)
      process.removeListener('SIGTERM', stop)
    }
  }

  async function runVersions({ values, positionals }) {
    const [modelKey] = positionals
    const versions = ft().listModelVersions(modelKey, { registryPath: registryPathOf(values) })
    if (state.json) {
      jsonLine(versions)
      return EXIT_OK
    }
    for (const v of versions) {
      const ev = v.evaluation ? ` ${v.evaluation.better ? 'better' : 'not better'} than ${v.evaluation.baseline}` : ''
      out(`${v.current ? '*' : ' '} ${v.model}  ${v.jobId || '-'}  ${v.finishedAt || '-'}${ev}`)
    }
    return EXIT_OK
  }

  async function runPromote({ values, positionals }) {
    const [modelKey, model] = positionals
    const before = ft().promoteModelVersion(modelKey, model, { registryPath: registryPathOf(values) })
    if (state.json) jsonLine({ type: 'promoted', modelKey, model, previousModel: before })
    else out(`${modelKey} now resolves to ${model} (was ${before})`)
    return EXIT_OK
  }

  async function runRollback({ values, positionals }) {
    const [modelKey] = positionals
    const now = ft().rollbackModel(modelKey, { registryPath: registryPathOf(values) })
    if (state.json) jsonLine({ type: 'rolledBack', modelKey, model: now })
    else out(`${modelKey} now resolves to ${now}`)
    return EXIT_OK
  }

  async function runRemove({ values, positionals }) {
    const [modelKey] = positionals
    const r = await ft().removeRegisteredModel(
      modelKey,
      dropUndefined({ registryPath: registryPathOf(values), deleteRemote: values['delete-remote'] || undefined, ...connection(values) }),
    )
    if (state.json) jsonLine({ type: 'removed', ...r })
    else out(`removed ${modelKey} (${r.models.join(', ')})${r.deletedRemote.length ? `; deleted at the API: ${r.deletedRemote.join(', ')}` : ''}`)
    return EXIT_OK
  }

  async function runImport({ values, positionals }) {
    const [jobId] = positionals
    if (!values['agent-name'] || !values['model-key']) throw cliError('ERR_MISSING_OPTION', 'import needs --agent-name and --model-key')
    const m = await ft().importFineTuneJob(
      jobId,
      dropUndefined({
        agentName: values['agent-name'],
        modelKey: values['model-key'],
        onExisting: values['on-existing'],
        registryPath: registryPathOf(values),
        ...connection(values),
      }),
    )
    if (state.json) jsonLine({ type: 'result', ...m })
    else out(`registered ${m.modelKey}: ${m.fineTunedModel} (job ${m.jobId})`)
    return EXIT_OK
  }

  const common = () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG })
  return {
    eval: {
      summary: 'evaluate a registered model against its baseline',
      usage: 'fine-tune eval <modelKey> [--data FILE|URL] [--grader NAME]... [--baseline MODEL] [--max-cost-usd X] [--json]',
      description: `Runs the data (default: the entry's validation file) through the model of modelKey and a baseline
(default: its base model), grades both answers of every example and prints a table of scores:
each model's mean, the difference, its 95% confidence interval (paired bootstrap), wins/ties/losses.
Graders: ${GRADERS.join(', ')}. ERR_COST_LIMIT (exit 3) when the estimate is above --max-cost-usd.`,
      flags: () => ({
        data: { type: 'string', arg: 'FILE|URL', help: 'chat-format JSONL (default: the validation file)' },
        grader: { type: 'string', arg: 'NAME', multiple: true, help: 'a grader (repeatable, or comma-separated)' },
        'primary-grader': { type: 'string', arg: 'NAME', help: 'the grader "better" is decided on' },
        baseline: { type: 'string', arg: 'MODEL', help: 'the model to compare against' },
        'judge-model': { type: 'string', arg: 'MODEL', help: 'the model of the judge grader' },
        concurrency: { type: 'string', arg: 'N', help: 'requests in flight (default 8)' },
        'max-cost-usd': { type: 'string', arg: 'X', help: 'refuse to start above this estimated cost' },
        'max-examples': { type: 'string', arg: 'N', help: 'only the first N examples' },
        seed: { type: 'string', arg: 'N', help: 'bootstrap seed (default 0)' },
        output: { type: 'string', arg: 'FILE', help: 'the answers file (JSONL)' },
        ...connectionFlags(),
        ...common(),
      }),
      positionals: 1,
      positionalNames: ['modelKey'],
      run: runEval,
    },
    versions: {
      summary: 'list the versions of a modelKey',
      usage: 'fine-tune versions <modelKey> [--registry-path FILE] [--json]',
      description: 'Lists every model a modelKey has had, oldest first; * marks the one agents get.',
      flags: common,
      positionals: 1,
      positionalNames: ['modelKey'],
      run: runVersions,
    },
    promote: {
      summary: 'make a version the model of a modelKey',
      usage: 'fine-tune promote <modelKey> <model> [--registry-path FILE] [--json]',
      description: 'Makes the version <model> of modelKey the model agents get.',
      flags: common,
      positionals: 2,
      positionalNames: ['modelKey', 'model'],
      run: runPromote,
    },
    rollback: {
      summary: 'go back to the previous model of a modelKey',
      usage: 'fine-tune rollback <modelKey> [--registry-path FILE] [--json]',
      description: 'Makes the model the key resolved to before its last promotion current again.',
      flags: common,
      positionals: 1,
      positionalNames: ['modelKey'],
      run: runRollback,
    },
    remove: {
      summary: 'remove a modelKey from the registry',
      usage: 'fine-tune remove <modelKey> [--delete-remote] [--registry-path FILE] [--json]',
      description: 'Removes the entry; with --delete-remote, first deletes its fine-tuned models at the API.',
      flags: () => ({ 'delete-remote': { type: 'boolean', help: 'also DELETE /v1/models/{model} for each version' }, ...connectionFlags(), ...common() }),
      positionals: 1,
      positionalNames: ['modelKey'],
      run: runRemove,
    },
    import: {
      summary: 'register a fine-tuning job started elsewhere',
      usage: 'fine-tune import <jobId> --agent-name NAME --model-key KEY [--on-existing newVersion] [--json]',
      description: 'Registers a succeeded job; a running job is refused (ERR_JOB_NOT_FINISHED), a failed one with ERR_JOB_FAILED.',
      flags: () => ({
        'agent-name': { type: 'string', arg: 'NAME', help: 'the agent the model is for' },
        'model-key': { type: 'string', arg: 'KEY', help: 'the key to register it under' },
        'on-existing': { type: 'string', arg: 'error|newVersion', help: 'when the key is registered' },
        ...connectionFlags(),
        ...common(),
      }),
      positionals: 1,
      positionalNames: ['jobId'],
      run: runImport,
    },
  }
}
