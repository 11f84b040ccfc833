'use strict'
// How the CLI prints: output streams with secrets redacted, number/size/time formats, tables,
// and progress events as plain lines (piped), a live line (terminal) or JSON lines (--json).

/** Whether this run prints JSON lines (`--json`), set once by main. */
const state = { json: false }
/** Values never printed: the API keys given by flag, config or environment. */
const secrets = new Set()

/** Adds a value to the redaction list (short values would mangle ordinary text: skipped). */
function addSecret(v) {
  if (typeof v === 'string' && v.trim().length >= 4) secrets.add(v.trim())
}

function redact(s) {
  let text = String(s)
  for (const k of secrets) text = text.split(k).join('***')
  return text
}

function out(line) {
  process.stdout.write(redact(line) + '\n')
}
function err(line) {
  process.stderr.write(redact(line) + '\n')
}
function jsonLine(obj) {
  process.stdout.write(redact(JSON.stringify(obj)) + '\n')
}

// ---------------------------------------------------------------------------------------------
// Formats

function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`
}

function fmtNum(x, digits = 4) {
  return typeof x === 'number' && isFinite(x) ? String(Number(x.toFixed(digits))) : String(x)
}

function fmtUsd(x) {
  const v = Number(x)
  return v >= 1 || v === 0 ? v.toFixed(2) : String(Number(v.toPrecision(2)))
}

function fmtDuration(ms) {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

/**
 * The one time format of the CLI's text output: ISO 8601 in UTC to the second
 * (`2026-01-01T12:00:00Z`). Takes Unix seconds or an ISO string; a date alone (`2026-01-01`)
 * stays a date; anything else is shown as it is.
 */
function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '-'
  let d = null
  if (typeof v === 'number' && isFinite(v)) d = new Date(v * 1000)
  else if (typeof v === 'string' && ISO_INSTANT.test(v)) d = new Date(v)
  if (!d || isNaN(d.getTime())) return String(v)
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Whether a field holds a time, by its name (`createdAt`, `finishedAt`, `estimatedFinish`…). */
const isTimeKey = (k) => /At$|^estimatedFinish$/.test(k)

function bar(fraction, width = 24) {
  const f = Math.max(0, Math.min(1, fraction))
  const full = Math.round(f * width)
  return '█'.repeat(full) + '░'.repeat(width - full)
}

/** Key/value rows, aligned. */
function table(rows, indent = '  ') {
  const w = Math.max(0, ...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join('\n')
}

/** Rows under a header, in aligned columns (the last column is not padded). */
function columns(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}

/** A value as text: numbers rounded, times in the one format, lists joined. */
function scalar(v, key = '') {
  if (v === null || v === undefined) return '-'
  if (isTimeKey(key)) return fmtTime(v)
  if (typeof v === 'number') return fmtNum(v)
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.length ? v.join(', ') : '-'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

/**
 * An object as key/value rows, nested objects as indented blocks (lines of text, not JSON).
 * `null` and `undefined` fields are left out.
 */
function tree(obj, indent = '  ') {
  const entries = Object.entries(obj).filter(([, v]) => v !== null && v !== undefined)
  const w = Math.max(0, ...entries.map(([k]) => k.length))
  const lines = []
  for (const [k, v] of entries) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${indent}${k}:`)
      const inner = tree(v, indent + '  ')
      if (inner) lines.push(inner)
    } else if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) {
      lines.push(`${indent}${k}:`)
      for (const item of v) {
        // Each item a block under "- ", its rows aligned with its first.
        const block = (item && typeof item === 'object' ? tree(item, `${indent}    `) : `${indent}    ${scalar(item)}`).split('\n')
        block[0] = `${indent}  - ${block[0].slice(indent.length + 4)}`
        lines.push(block.join('\n'))
      }
    } else {
      lines.push(`${indent}${k.padEnd(w)}  ${scalar(v, k)}`)
    }
  }
  return lines.join('\n')
}

/** One data issue: `kind ×count: message (lines 1, 2, …)`. */
function issueLine(i) {
  if (!i || typeof i !== 'object') return String(i)
  const where = Array.isArray(i.lines) && i.lines.length ? ` (line${i.lines.length > 1 ? 's' : ''} ${i.lines.join(', ')}${i.count > i.lines.length ? ', …' : ''})` : ''
  const count = typeof i.count === 'number' ? ` ×${i.count}` : ''
  return `${i.kind ? `${i.kind}${count}: ` : ''}${i.message ?? ''}${where}`
}

/** Whether and when a model stops answering, in a few words. */
function stopsLine(s) {
  if (!s) return '-'
  switch (s.status) {
    case 'shutDown':
      return `STOPPED ${fmtTime(s.at)} (${s.reason})`
    case 'soon':
      return `${fmtTime(s.at)} (in ${s.daysLeft} days: ${s.reason})`
    case 'scheduled':
      return `${fmtTime(s.at)} (in ${s.daysLeft} days)`
    case 'undeployed':
      return 'not deployed: answers nothing'
    case 'deleted':
      return `DELETED (${s.reason})`
    default:
      return 'no date announced'
  }
}

/**
 * Word-wraps `text` to `width` columns; continuation lines start with `indent` spaces. Words
 * longer than a line (URLs) are kept whole.
 */
function wrap(text, width, indent) {
  const lines = []
  for (const para of String(text).split('\n')) {
    const lead = /^ */.exec(para)[0]
    const cont = ' '.repeat(indent === undefined ? lead.length : indent)
    const words = para.slice(lead.length).split(/ +/)
    let line = lead + words.shift()
    for (const w of words) {
      if (line.length + 1 + w.length > width && line.trim() !== '') {
        lines.push(line)
        line = cont + w
      } else {
        line += ' ' + w
      }
    }
    lines.push(line)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Evaluation reports

/** The primary grader's scores of a report. */
function primaryScores(r) {
  return (r.graders || []).find((g) => g.name === r.primaryGrader) || {}
}

/** Why a report's verdict is "not better", in words (the core's reason when it gives one). */
function notBetterReason(r) {
  if (typeof r.reason === 'string' && r.reason) return r.reason
  const g = primaryScores(r)
  const diff = typeof g.difference === 'number' ? `${g.difference >= 0 ? '+' : ''}${fmtNum(g.difference, 3)}` : '?'
  return `${r.primaryGrader} difference ${diff}, 95% CI [${fmtNum(g.ciLow, 3)}, ${fmtNum(g.ciHigh, 3)}] does not lie above 0`
}

/** One line: better or not than the baseline, on which grader. */
function verdictLine(r) {
  const g = primaryScores(r)
  const scores = `${r.primaryGrader} ${fmtNum(g.candidateMean, 3)} vs ${fmtNum(g.baselineMean, 3)}`
  return r.better
    ? `better than ${r.baseline}: ${scores}, 95% CI [${fmtNum(g.ciLow, 3)}, ${fmtNum(g.ciHigh, 3)}]`
    : `not better than ${r.baseline}: ${scores} (${notBetterReason(r)})`
}

// ---------------------------------------------------------------------------------------------
// Progress

/** The text of one progress event, for a plain line (piped stderr) or a permanent line above the live one. */
function eventLine(e) {
  switch (e.type) {
    case 'dataChecked': {
      const r = e.report || {}
      const errs = Array.isArray(r.errors) ? r.errors.length : 0
      const warns = Array.isArray(r.warnings) ? r.warnings.length : 0
      const kinds = warns ? ` (${r.warnings.map((w) => (w && w.kind) || '?').join(', ')})` : ''
      return `data checked: ${e.file}: ${r.examples ?? '?'} examples, ${errs} error${errs === 1 ? '' : 's'}, ${warns} warning${warns === 1 ? '' : 's'}${kinds}`
    }
    case 'uploadStarted':
      return `uploading ${e.file} (${fmtBytes(e.bytes)})`
    case 'uploadProgress':
      return `uploading ${e.file}: ${fmtBytes(e.sent)} / ${fmtBytes(e.total)}${e.total ? ` (${Math.floor((100 * e.sent) / e.total)}%)` : ''}`
    case 'fileUploaded':
      return `uploaded ${e.file}: ${e.fileId} (${fmtBytes(e.bytes)})`
    case 'fileProcessed':
      return `processed ${e.file}: ${e.fileId}`
    case 'jobCreated':
      return `job ${e.resumed ? 'resumed' : 'created'}: ${e.jobId}`
    case 'status':
      return `status: ${e.status}`
    case 'jobEvent':
      if (typeof e.step === 'number') {
        const parts = [`step ${e.step}${typeof e.totalSteps === 'number' ? `/${e.totalSteps}` : ''}`]
        if (typeof e.trainLoss === 'number') parts.push(`train loss ${fmtNum(e.trainLoss)}`)
        if (typeof e.validLoss === 'number') parts.push(`valid loss ${fmtNum(e.validLoss)}`)
        if (typeof e.trainAccuracy === 'number') parts.push(`accuracy ${fmtNum(e.trainAccuracy)}`)
        return parts.join('  ')
      }
      return `${e.level && e.level !== 'info' ? e.level : 'event'}: ${e.message}`
    case 'registered':
      return `registered ${e.modelKey}: ${e.fineTunedModel} in ${e.registryPath}`
    case 'modelShutdownWarning':
      return `warning: the base model ${e.model} shuts down on ${e.shutdownDate} (${e.daysLeft} days): the fine-tuned model stops answering then`
    case 'deployment':
      return `azure deployment ${e.deployment}: ${e.provisioningState}`
    case 'evaluationStarted': {
      const cost = e.estimatedCostUsd == null ? 'cost unknown' : `~$${fmtUsd(e.estimatedCostUsd)}`
      return `evaluating ${e.candidate} against ${e.baseline}: ${e.examples} examples, ${e.requests} requests, ~${e.estimatedTokens} tokens, ${cost}`
    }
    case 'evaluationProgress':
      return `evaluation: requests ${e.done}/${e.total}`
    case 'evaluationFinished': {
      const diff = typeof e.difference === 'number' ? `${e.difference >= 0 ? '+' : ''}${fmtNum(e.difference, 3)}` : '?'
      return `evaluated: ${e.better ? 'better' : 'not better'} (${e.primaryGrader} difference ${diff})`
    }
    default: {
      // An event this CLI does not know yet: its scalar fields as text.
      const { type, ...rest } = e || {}
      const fields = Object.entries(rest).filter(([, v]) => v === null || typeof v !== 'object')
      return `${type || 'event'}${fields.length ? `: ${fields.map(([k, v]) => `${k} ${scalar(v, k)}`).join(', ')}` : ''}`
    }
  }
}

/** The live single-line display of a terminal. */
class LiveLine {
  constructor(stream, phase) {
    this.stream = stream
    this.start = Date.now()
    this.phase = phase
    this.upload = null // { file, sent, total, done }
    this.job = null // { id, status, step, total, loss, validLoss, message }
    this.evaluation = null // { done, total }
    this.shown = false
    this.timer = setInterval(() => this.draw(), 1000)
    this.timer.unref()
  }

  width() {
    return Math.max(20, (this.stream.columns || 80) - 1)
  }

  text() {
    const elapsed = fmtDuration(Date.now() - this.start)
    if (this.evaluation) {
      const v = this.evaluation
      return `evaluating ${bar(v.total ? v.done / v.total : 0)} requests ${v.done}/${v.total}  ${elapsed}`
    }
    if (this.job) {
      const j = this.job
      const parts = [`${j.status || 'starting'}`]
      if (typeof j.step === 'number' && typeof j.total === 'number' && j.total > 0) {
        parts.push(`${bar(j.step / j.total)} step ${j.step}/${j.total}`)
      } else if (typeof j.step === 'number') {
        parts.push(`step ${j.step}`)
      }
      if (typeof j.loss === 'number') parts.push(`loss ${fmtNum(j.loss)}`)
      if (typeof j.validLoss === 'number') parts.push(`valid ${fmtNum(j.validLoss)}`)
      else if (j.message && typeof j.step !== 'number') parts.push(j.message)
      return `${parts.join('  ')}  ${elapsed}`
    }
    if (this.upload) {
      const u = this.upload
      const frac = u.total ? u.sent / u.total : 0
      return `uploading ${u.file} ${bar(frac)} ${fmtBytes(u.sent)} / ${fmtBytes(u.total)}${u.done ? ` ${u.done}` : ''}  ${elapsed}`
    }
    return `${this.phase}…  ${elapsed}`
  }

  draw() {
    let t = this.text()
    const w = this.width()
    if ([...t].length > w) t = [...t].slice(0, w - 1).join('') + '…'
    this.stream.write(`\r${redact(t)}\x1b[K`)
    this.shown = true
  }

  clear() {
    if (this.shown) this.stream.write('\r\x1b[K')
    this.shown = false
  }

  /** A permanent line above the live one. */
  log(line) {
    this.clear()
    this.stream.write(redact(line) + '\n')
    this.draw()
  }

  stop() {
    clearInterval(this.timer)
    this.clear()
  }

  event(e) {
    switch (e.type) {
      case 'dataChecked':
        this.log(`✓ ${eventLine(e)}`)
        for (const w of (e.report && e.report.warnings) || []) this.log(`  warning: ${issueLine(w)}`)
        break
      case 'uploadStarted':
        this.upload = { file: e.file, sent: 0, total: e.bytes }
        this.draw()
        break
      case 'uploadProgress':
        this.upload = { file: e.file, sent: e.sent, total: e.total }
        this.draw()
        break
      case 'fileUploaded':
        this.upload = { file: e.file, sent: e.bytes, total: e.bytes, done: `(processing ${e.fileId})` }
        this.log(`✓ ${eventLine(e)}`)
        break
      case 'fileProcessed':
        if (this.upload) this.upload.done = '(processed)'
        this.draw()
        break
      case 'jobCreated':
        this.job = { id: e.jobId, status: 'created' }
        this.log(`✓ ${eventLine(e)}`)
        break
      case 'status':
        if (!this.job) this.job = { id: e.jobId }
        this.job.status = e.status
        this.log(`  status: ${e.status}`)
        break
      case 'jobEvent':
        if (!this.job) this.job = { id: e.jobId }
        if (typeof e.step === 'number') {
          this.job.step = e.step
          if (typeof e.totalSteps === 'number') this.job.total = e.totalSteps
          if (typeof e.trainLoss === 'number') this.job.loss = e.trainLoss
          if (typeof e.validLoss === 'number') this.job.validLoss = e.validLoss
          this.draw()
        } else if (e.level && e.level !== 'info') {
          this.log(`  ${e.level}: ${e.message}`)
        } else {
          this.job.message = e.message
          this.draw()
        }
        break
      case 'evaluationStarted':
        this.evaluation = { done: 0, total: e.requests }
        this.log(`  ${eventLine(e)}`)
        break
      case 'evaluationProgress':
        this.evaluation = { done: e.done, total: e.total }
        this.draw()
        break
      case 'evaluationFinished':
        this.evaluation = null
        this.log(`✓ ${eventLine(e)}`)
        break
      case 'registered':
      case 'deployment':
        this.log(`✓ ${eventLine(e)}`)
        break
      case 'modelShutdownWarning':
        this.log(`  ${eventLine(e)}`)
        break
      default:
        this.log(`  ${eventLine(e)}`)
    }
  }
}

/**
 * The `onProgress` of a command: JSON lines on stdout with --json, a live line on a terminal,
 * else one line of text per event on stderr (evaluation progress every 10 % of the requests).
 * `stop()` clears the live line. A display problem never breaks the run.
 */
function progressPrinter(phase) {
  const mode = state.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain'
  const live = mode === 'tty' ? new LiveLine(process.stderr, phase) : null
  let evalTenth = -1
  const onProgress = (e) => {
    try {
      if (mode === 'json') return jsonLine(e)
      if (live) return live.event(e)
      if (e.type === 'evaluationStarted') evalTenth = 0
      if (e.type === 'evaluationProgress') {
        const tenth = e.total ? Math.floor((10 * e.done) / e.total) : 10
        if (tenth === evalTenth && e.done !== e.total) return
        evalTenth = tenth
      }
      err(eventLine(e))
    } catch (_) {
      // A display problem must never break the run.
    }
  }
  return { mode, onProgress, stop: () => live && live.stop() }
}

module.exports = {
  state,
  addSecret,
  redact,
  out,
  err,
  jsonLine,
  fmtBytes,
  fmtNum,
  fmtUsd,
  fmtTime,
  table,
  columns,
  scalar,
  tree,
  issueLine,
  stopsLine,
  wrap,
  primaryScores,
  notBetterReason,
  verdictLine,
  eventLine,
  progressPrinter,
}
