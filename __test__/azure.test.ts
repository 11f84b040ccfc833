import { trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, runChild, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
// lenient until the client speaks v1 (issue 16)
const fx = useEmulator({ jobDurationMs: 300, azureLenient: true })

const endpoint = () => fx.emu.url.replace(/\/v1$/, '')

let seed = 0

function base(extra: Record<string, unknown> = {}): any {
  // Connection options come from each test (Azure endpoint, environment, or v1 base URL). Each
  // run gets its own seed: otherwise it would adopt the job an earlier test trained.
  const { apiKey, baseUrl, ...rest } = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_azure', seed: seed++ })
  return { ...rest, ...extra }
}

/** Requests per route made during `fn`. */
async function routesUsed(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = fx.emu.stats().requests
  await fn()
  const after = fx.emu.stats().requests
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0)
  return out
}

test('Azure OpenAI: /openai paths, api-key header and api-version query', async () => {
  let model: any
  const routes = await routesUsed(async () => {
    model = await trainAndRegisterFineTunedModel(base({ azureEndpoint: endpoint(), apiKey: fx.emu.apiKey, apiVersion: '2024-10-21' }))
  })
  expect(model.fineTunedModel).toMatch(/^ft:/)
  expect(Object.keys(routes)).toContain('POST /openai/files')
  expect(Object.keys(routes)).toContain('POST /openai/fine_tuning/jobs')
  expect(Object.keys(routes).some((r) => r.includes(' /v1/'))).toBe(false)
})

test('Azure from AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY', async () => {
  const before = fx.emu.stats().requests['POST /openai/fine_tuning/jobs'] ?? 0
  const { done } = runChild(base(), {
    OPENAI_BASE_URL: undefined,
    OPENAI_API_KEY: undefined,
    AZURE_OPENAI_ENDPOINT: endpoint(),
    AZURE_OPENAI_API_KEY: fx.emu.apiKey,
    OPENAI_API_VERSION: '2024-10-21',
  })
  const { result } = await done
  expect(result).toMatchObject({ ok: true })
  expect(fx.emu.stats().requests['POST /openai/fine_tuning/jobs']).toBe(before + 1)
})

test("Azure's v1 endpoint works as a plain base URL", async () => {
  const routes = await routesUsed(() =>
    trainAndRegisterFineTunedModel(base({ baseUrl: `${endpoint()}/openai/v1`, apiKey: fx.emu.apiKey })),
  )
  expect(Object.keys(routes)).toContain('POST /openai/v1/fine_tuning/jobs')
})
