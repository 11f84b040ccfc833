import * as fs from 'node:fs'
import * as path from 'node:path'
import { startEmulator, trainAndRegisterFineTunedModel, type Emulator } from 'taskforce-fine-tune'
import { chatJsonl, counts, rejection, runChild, serve, tempDir, writeFile, pipelineOptions, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })

function base(extra: Record<string, unknown> = {}): any {
  return pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_v1', ...extra })
}

/** Asserts the call is refused with `code` and that nothing reached the API. */
async function refusedBeforeUpload(opts: any, code: string): Promise<any> {
  const before = await counts(fx.emu.url, fx.emu.apiKey)
  const err = await rejection(trainAndRegisterFineTunedModel(opts))
  expect(Object.prototype.toString.call(err)).toBe("[object Error]")
  expect(err.code).toBe(code)
  expect(await counts(fx.emu.url, fx.emu.apiKey)).toEqual(before)
  return err
}

test('ERR_MISSING_OPTION names every missing field', async () => {
  const err = await refusedBeforeUpload({ agentName: 'x', modelKey: '', baseModel: null }, 'ERR_MISSING_OPTION')
  expect(err.message).toContain('modelKey')
  expect(err.message).toContain('baseModel')
  expect(err.message).toContain('source')
  expect(err.message).not.toContain('agentName')
})

test('ERR_DUPLICATE_MODEL_KEY is checked before anything is uploaded, and the registry is untouched', async () => {
  const registry = writeFile(tmp.dir, 'fine-tuned/models.json', JSON.stringify({ writer_v1: { model: { name: 'ft:x' } } }))
  const before = fs.readFileSync(registry, 'utf8')
  const err = await refusedBeforeUpload(base(), 'ERR_DUPLICATE_MODEL_KEY')
  expect(err.message).toContain('writer_v1')
  expect(fs.readFileSync(registry, 'utf8')).toBe(before)
})

test.each(['claude-3-haiku', 'meta-llama/Llama-3-8b', 'gemini-1.5-pro'])(
  'ERR_UNSUPPORTED_BASE_MODEL for %s',
  async (baseModel) => {
    await refusedBeforeUpload(base({ baseModel }), 'ERR_UNSUPPORTED_BASE_MODEL')
  },
)

test('ft: models and snapshots are accepted as base models', async () => {
  const model = await trainAndRegisterFineTunedModel(base({ baseModel: 'ft:gpt-4o-mini-2024-07-18:org-x:old:abc123', modelKey: 'ft_base' }))
  expect(model.fineTunedModel).toMatch(/^ft:/)
})

test('ERR_INVALID_OPTION for a suffix that is too long or has forbidden characters', async () => {
  const long = await refusedBeforeUpload(base({ suffix: 'x'.repeat(65) }), 'ERR_INVALID_OPTION')
  expect(long.param).toBe('suffix')
  await refusedBeforeUpload(base({ suffix: 'has space/slash' }), 'ERR_INVALID_OPTION')
})

test('ERR_MISSING_API_KEY without apiKey or OPENAI_API_KEY', async () => {
  const before = await counts(fx.emu.url, fx.emu.apiKey)
  const { done } = runChild(base({ apiKey: undefined }), { OPENAI_API_KEY: undefined })
  const { result } = await done
  expect(result).toMatchObject({ ok: false, code: 'ERR_MISSING_API_KEY' })
  expect(await counts(fx.emu.url, fx.emu.apiKey)).toEqual(before)
})

test('ERR_SOURCE_NOT_FOUND for a missing local file', async () => {
  const err = await refusedBeforeUpload(base({ source: path.join(tmp.dir, 'nope.jsonl') }), 'ERR_SOURCE_NOT_FOUND')
  expect(err.message).toContain('nope.jsonl')
  await refusedBeforeUpload(base({ validation: path.join(tmp.dir, 'nope2.jsonl') }), 'ERR_SOURCE_NOT_FOUND')
})

test.each(['file:///etc/passwd', 'ftp://127.0.0.1/train.jsonl'])('ERR_INVALID_OPTION for a %s source', async (source) => {
  await refusedBeforeUpload(base({ source }), 'ERR_INVALID_OPTION')
})

test('ERR_SOURCE_FETCH with the status for a non-2xx URL, and an HTML page is never uploaded', async () => {
  const server = await serve((req, res) => {
    if (req.url === '/missing.jsonl') {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
    } else if (req.url === '/login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><html><body>Please sign in</body></html>')
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end('<html><body>sneaky</body></html>')
    }
  })
  try {
    const notFound = await refusedBeforeUpload(base({ source: `${server.url}/missing.jsonl` }), 'ERR_SOURCE_FETCH')
    expect(notFound.status).toBe(404)
    await refusedBeforeUpload(base({ source: `${server.url}/login` }), 'ERR_SOURCE_FETCH')
    await refusedBeforeUpload(base({ source: `${server.url}/sneaky.jsonl` }), 'ERR_SOURCE_FETCH')
  } finally {
    await server.close()
  }
})

test('URL sources: redirects are followed a few times, never to another scheme, and a size cap holds', async () => {
  const body = chatJsonl(12)
  const server = await serve((req, res) => {
    const url = req.url ?? ''
    if (url.startsWith('/hop/')) {
      const n = Number(url.split('/')[2])
      res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/data.jsonl' })
      res.end()
    } else if (url === '/to-file') {
      res.writeHead(302, { location: 'file:///etc/passwd' })
      res.end()
    } else {
      res.writeHead(200, { 'content-type': 'application/jsonl' })
      res.end(body)
    }
  })
  try {
    const ok = await trainAndRegisterFineTunedModel(base({ source: `${server.url}/hop/2`, modelKey: 'via_redirects' }))
    expect(ok.fineTunedModel).toMatch(/^ft:/)
    const loop = await refusedBeforeUpload(base({ source: `${server.url}/hop/20` }), 'ERR_SOURCE_FETCH')
    expect(loop.message).toMatch(/redirect/i)
    await refusedBeforeUpload(base({ source: `${server.url}/to-file` }), 'ERR_SOURCE_FETCH')
    const big = await refusedBeforeUpload(base({ source: `${server.url}/data.jsonl`, maxDownloadBytes: 100 }), 'ERR_SOURCE_FETCH')
    expect(big.message).toContain('maxDownloadBytes')
  } finally {
    await server.close()
  }
})

test('ERR_INVALID_TRAINING_DATA with line numbers for a file that is not JSON Lines of objects', async () => {
  const lines = chatJsonl(12).trim().split('\n')
  lines[2] = '{"messages": [oops'
  lines[6] = '[1, 2, 3]'
  const source = writeFile(tmp.dir, 'bad.jsonl', lines.join('\n') + '\n')
  const err = await refusedBeforeUpload(base({ source }), 'ERR_INVALID_TRAINING_DATA')
  expect(err.report.valid).toBe(false)
  const invalidJson = err.report.errors.find((e: any) => e.kind === 'invalid_json')
  expect(invalidJson.lines).toEqual([3])
  const dataType = err.report.errors.find((e: any) => e.kind === 'data_type')
  expect(dataType.lines).toEqual([7])
})

test('ERR_REGISTRY_CORRUPT names the file and never overwrites it', async () => {
  const registry = writeFile(tmp.dir, 'fine-tuned/models.json', '{"half": ')
  const err = await refusedBeforeUpload(base(), 'ERR_REGISTRY_CORRUPT')
  expect(err.message).toContain(registry)
  expect(fs.readFileSync(registry, 'utf8')).toBe('{"half": ')
})

test('ERR_AUTHENTICATION with status and request id for a wrong key; the key is not in the message', async () => {
  const err = await rejection(trainAndRegisterFineTunedModel(base({ apiKey: 'sk-wrong-key-123' })))
  expect(err.code).toBe('ERR_AUTHENTICATION')
  expect(err.status).toBe(401)
  expect(err.requestId).toMatch(/^req_/)
  expect(err.message).not.toContain('sk-wrong-key-123')
})

test('ERR_INVALID_OPTION for options of the wrong type', async () => {
  const err = await refusedBeforeUpload(base({ pollIntervalMs: 'soon' }), 'ERR_INVALID_OPTION')
  expect(err.param).toBe('pollIntervalMs')
})

describe('job outcomes', () => {
  let failing: Emulator
  let cancelling: Emulator
  let slow: Emulator
  beforeAll(async () => {
    failing = await startEmulator({ jobDurationMs: 300, faults: { failJobs: true } })
    cancelling = await startEmulator({ jobDurationMs: 5000, faults: { cancelJobsAfterMs: 200 } })
    slow = await startEmulator({ jobDurationMs: 60000 })
  })
  afterAll(async () => {
    await Promise.all([failing.close(), cancelling.close(), slow.close()])
  })

  test('ERR_JOB_FAILED carries the job id and OpenAI error; nothing is registered', async () => {
    const opts = base({ baseUrl: failing.url, apiKey: failing.apiKey })
    const err = await rejection(trainAndRegisterFineTunedModel(opts))
    expect(err.code).toBe('ERR_JOB_FAILED')
    expect(err.jobId).toMatch(/^ftjob-/)
    expect(err.apiCode).toBe('server_error')
    expect(err.message).toContain('The job failed due to an internal error.')
    expect(fs.existsSync(opts.registryPath)).toBe(false)
  })

  test('ERR_JOB_CANCELLED when the job is cancelled elsewhere (no endless polling)', async () => {
    const err = await rejection(trainAndRegisterFineTunedModel(base({ baseUrl: cancelling.url, apiKey: cancelling.apiKey })))
    expect(err.code).toBe('ERR_JOB_CANCELLED')
    expect(err.jobId).toMatch(/^ftjob-/)
  })

  // The job takes 60 s; 10 s leaves the upload and the create time to finish on a loaded machine
  // (300 ms did not: the call timed out before the job existed).
  test('ERR_TIMEOUT carries the job id; the job keeps running', async () => {
    const err = await rejection(trainAndRegisterFineTunedModel(base({ baseUrl: slow.url, apiKey: slow.apiKey, timeoutMs: 10000 })))
    expect(err.code).toBe('ERR_TIMEOUT')
    expect(err.jobId).toMatch(/^ftjob-/)
    const res = await fetch(`${slow.url}/fine_tuning/jobs/${err.jobId}`, { headers: { Authorization: `Bearer ${slow.apiKey}` } })
    const job = await res.json()
    expect(['validating_files', 'queued', 'running']).toContain(job.status)
  })
})

describe('startEmulator options', () => {
  test('an unknown fault kind rejects with ERR_INVALID_OPTION naming it', async () => {
    const err = await rejection(startEmulator({ faults: { rate: 1, kinds: ['500', 'teapot'] } }))
    expect(Object.prototype.toString.call(err)).toBe('[object Error]')
    expect(err.code).toBe('ERR_INVALID_OPTION')
    expect(err.param).toBe('faults.kinds')
    expect(err.message).toBe(
      'option faults.kinds: unknown fault kind "teapot" (known: 500, 503, 429, quota, daily_limit, drop, slow, lost, late)',
    )
  })

  test.each([
    [{ faults: { rate: 2 } }, 'faults.rate'],
    [{ faults: { endpoints: ['jobs.craete'] } }, 'faults.endpoints'],
    [{ faults: { retryAfterMs: -1 } }, 'faults.retryAfterMs'],
    [{ jobDurationMs: 1.5 }, 'jobDurationMs'],
    [{ port: 70000 }, 'port'],
  ])('%j rejects with ERR_INVALID_OPTION for %s', async (options, param) => {
    const err = await rejection(startEmulator(options))
    expect(err.code).toBe('ERR_INVALID_OPTION')
    expect(err.param).toBe(param)
    expect(err.message).toMatch(new RegExp(`^option ${param.replace('.', '\\.')}: `))
  })

  test('a value of the wrong type rejects with ERR_INVALID_OPTION', async () => {
    const err = await rejection(startEmulator({ faults: { kinds: '500' } } as any))
    expect(err.code).toBe('ERR_INVALID_OPTION')
    const notAnObject = await rejection(startEmulator(42 as any))
    expect(notAnObject.code).toBe('ERR_INVALID_OPTION')
    expect(notAnObject.message).toBe('options must be an object, got a number')
    expect(notAnObject.param).toBe('options')
  })

  test('a port in use rejects with ERR_INVALID_OPTION for port, with the system error', async () => {
    const port = Number(new URL(fx.emu.url).port)
    const err = await rejection(startEmulator({ port }))
    expect(err.code).toBe('ERR_INVALID_OPTION')
    expect(err.param).toBe('port')
    expect(err.message).toMatch(new RegExp(`^option port: cannot listen on 127\\.0\\.0\\.1:${port}: .*in use`, 'i'))
  })
})
