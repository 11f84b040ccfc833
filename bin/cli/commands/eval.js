'use strict'
// fine-tune eval: is the model of a modelKey better than its baseline? With --require-better
// and --min-score, the exit code says whether the verdict is met (6 when not), for CI.

const { ft } = require('../addon')
const { EXIT, cliError } = require('../errors')
const { registryFlag, connectionFlags, JSON_FLAG, HELP_FLAG, registryPathOf, connectionOptions, numberFlag, keyValues, toNumber, without } =
  require('../options')
const { state, out, jsonLine, columns, fmtNum, fmtUsd, notBetterReason, verdictLine, progressPrinter } = require('../render')

const GRADERS = ['exact', 'contains', 'json', 'toolCalls', 'similarity', 'judge']

function checkGrader(flag, name) {
  if (!GRADERS.includes(name)) {
    throw cliError('ERR_INVALID_OPTION', `--${flag}: ${JSON.stringify(name)} is not one of ${GRADERS.join(', ')}`, { param: flag })
  }
}

/** `--min-score GRADER=X`, repeatable: `{ grader: X }`, each X from 0 to 1. */
function minScores(list) {
  const out = {}
  for (const [name, v] of Object.entries(keyValues('min-score', list || []))) {
    checkGrader('min-score', name)
    const x = toNumber('min-score', v)
    if (!(x >= 0 && x <= 1)) throw cliError('ERR_INVALID_OPTION', `--min-score ${name}=${v}: a score is from 0 to 1`, { param: 'min-score' })
    out[name] = x
  }
  return out
}

/** What the report fails of --require-better and --min-score, in words (empty: the verdict is met). */
function verdictFailures(report, requireBetter, mins) {
  const failures = []
  if (requireBetter && !report.better) failures.push(verdictLine(report))
  for (const [name, min] of Object.entries(mins)) {
    const g = report.graders.find((x) => x.name === name)
    if (!g) {
      throw cliError(
        'ERR_INVALID_OPTION',
        `--min-score ${name}: the evaluation has no ${name} scores (graders: ${report.graders.map((x) => x.name).join(', ')}); add --grader ${name}`,
        { param: 'min-score' },
      )
    }
    if (g.examples === 0) failures.push(`${name} applied to none of the examples, so it has no score to hold to --min-score ${name}=${min}`)
    else if (g.candidateMean < min) failures.push(`${name} ${fmtNum(g.candidateMean, 3)} is below --min-score ${name}=${min}`)
  }
  return failures
}

/** A p-value as printed: 3 significant digits, or `<0.001`. */
function fmtP(p) {
  if (typeof p !== 'number') return '?'
  return p < 0.001 ? '<0.001' : fmtNum(p, 3)
}

function printReport(r) {
  const rows = r.graders.map((g) => [
    g.name + (g.name === r.primaryGrader ? ' *' : ''),
    String(g.examples),
    fmtNum(g.candidateMean, 3),
    fmtNum(g.baselineMean, 3),
    (g.difference >= 0 ? '+' : '') + fmtNum(g.difference, 3),
    `[${fmtNum(g.ciLow, 3)}, ${fmtNum(g.ciHigh, 3)}]`,
    `${g.wins}/${g.ties}/${g.losses}`,
    fmtP(g.pValue),
  ])
  out(`${r.candidate} vs ${r.baseline} on ${r.examples} examples (${r.data})`)
  out(columns(['GRADER', 'N', 'CANDIDATE', 'BASELINE', 'DIFF', '95% CI', 'W/T/L', 'SIGN P'], rows))
  const primary = r.graders.find((g) => g.name === r.primaryGrader) || {}
  const why = r.better ? `sign test p = ${fmtP(primary.pValue)}, and the 95% CI of its difference lies above 0` : notBetterReason(r)
  out(`better: ${r.better ? 'yes' : 'no'} (* primary grader: ${r.primaryGrader}; ${why})`)
  if (r.partial) out(`partial: ${r.answered} of ${r.examples} examples answered; run the same command again to resume`)
  for (const e of r.graderErrors || []) out(`grader error: ${e.grader}, line ${e.line} (${e.model}): ${e.message}`)
  out(`tokens: ${r.usage.totalTokens}, cost: ${r.costUsd == null ? 'unknown' : `$${fmtUsd(r.costUsd)}`} (prices of ${r.priceDate})`)
  if (r.cacheDir) out(`answers reused: ${r.reusedAnswers}, new: ${r.newAnswers} (store: ${r.cacheDir})`)
  out(`answers: ${r.outputPath}`)
  if (r.junitPath) out(`junit: ${r.junitPath}`)
}

async function run({ values, positionals }) {
  const [modelKey] = positionals
  let graders = values.grader && values.grader.length ? values.grader.flatMap((g) => g.split(',')) : undefined
  for (const g of graders || []) checkGrader('grader', g)
  const mins = minScores(values['min-score'])
  // A threshold's grader runs, even when --grader names others.
  if (graders) for (const name of Object.keys(mins)) if (!graders.includes(name)) graders.push(name)
  const requireBetter = values['require-better'] === true
  const gated = requireBetter || Object.keys(mins).length > 0

  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const progress = progressPrinter('evaluating')
  let report
  try {
    report = await ft().evaluateModel(
      without({
        modelKey,
        registryPath: registryPathOf(values),
        ...connectionOptions(values),
        data: values.data,
        baseline: values.baseline,
        graders,
        primaryGrader: values['primary-grader'],
        judgeModel: values['judge-model'],
        concurrency: numberFlag(values, 'concurrency'),
        maxCostUsd: numberFlag(values, 'max-cost-usd'),
        maxExamples: numberFlag(values, 'max-examples'),
        seed: numberFlag(values, 'seed'),
        outputPath: values.output,
        cache: values['no-cache'] === true ? false : undefined,
        junitPath: values.junit,
        minScores: Object.keys(mins).length ? mins : undefined,
        signal: controller.signal,
        onProgress: progress.onProgress,
      }),
    )
  } finally {
    progress.stop()
    process.removeListener('SIGINT', stop)
    process.removeListener('SIGTERM', stop)
  }
  const failures = gated ? verdictFailures(report, requireBetter, mins) : []
  if (state.json) {
    jsonLine({ type: 'result', ...report, ...(gated ? { verdict: { met: failures.length === 0, failures } } : {}) })
  } else {
    printReport(report)
    if (gated) {
      if (failures.length === 0) out('verdict: met')
      else for (const f of failures) out(`verdict: NOT MET: ${f}`)
    }
  }
  return failures.length ? EXIT.VERDICT : EXIT.OK
}

module.exports = {
  summary: 'evaluate a registered model against its baseline',
  usage: [
    'fine-tune eval <modelKey> [--data FILE|URL] [--grader NAME]... [--baseline MODEL] [--require-better] [--min-score GRADER=X]... [--max-cost-usd X] [--no-cache] [--junit FILE] [--json]',
  ],
  description: `Runs the data (default: the entry's validation file) through the model of modelKey and a baseline
(default: its base model), grades both answers of every example and prints a table of scores:
each model's mean, the difference, its 95% confidence interval (paired bootstrap), wins/ties/losses
and the sign test's p-value. "better" needs at least 10 paired examples, a sign test p below 0.05
and the interval above 0 (docs/evaluation.md). Graders: ${GRADERS.join(', ')}.
ERR_COST_LIMIT (exit 2) when the estimate is above --max-cost-usd; no request is sent that could
take the spending past it.

Every answer is kept beside the registry (.eval-cache/): running the same command again asks only
for the answers it does not have (an interrupted or partial run resumes); --no-cache asks again.

For CI: --require-better exits 6 unless the report says better; --min-score GRADER=X exits 6
when the model's mean score of GRADER is below X (repeatable; the grader is added to --grader);
--junit FILE writes a JUnit XML report (one testcase per grader). Without --require-better or
--min-score, the exit code does not depend on the scores.`,
  flags: () => ({
    data: { type: 'string', arg: 'FILE|URL', help: 'chat-format JSONL (default: the validation file)' },
    grader: { type: 'string', arg: 'NAME', multiple: true, help: 'a grader (repeatable, or comma-separated)' },
    'primary-grader': { type: 'string', arg: 'NAME', help: 'the grader "better" is decided on' },
    baseline: { type: 'string', arg: 'MODEL', help: 'the model to compare against' },
    'require-better': { type: 'boolean', help: 'exit 6 unless the model is better than the baseline' },
    'min-score': { type: 'string', arg: 'GRADER=X', multiple: true, help: "exit 6 when the model's GRADER mean is below X (0 to 1; repeatable)" },
    'judge-model': { type: 'string', arg: 'MODEL', help: 'the model of the judge grader' },
    concurrency: { type: 'string', arg: 'N', help: 'requests in flight (default 8)' },
    'max-cost-usd': { type: 'string', arg: 'X', help: 'refuse to start above this estimated cost' },
    'max-examples': { type: 'string', arg: 'N', help: 'only the first N examples' },
    seed: { type: 'string', arg: 'N', help: 'bootstrap seed (default 0)' },
    output: { type: 'string', arg: 'FILE', help: 'the answers file (JSONL)' },
    'no-cache': { type: 'boolean', help: 'ask every request again instead of reusing kept answers' },
    junit: { type: 'string', arg: 'FILE', help: 'write a JUnit XML report (one testcase per grader)' },
    ...registryFlag(),
    ...connectionFlags(),
    ...JSON_FLAG,
    ...HELP_FLAG,
  }),
  positionals: 1,
  positionalNames: ['modelKey'],
  run,
}
