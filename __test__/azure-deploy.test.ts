// Azure OpenAI to the end, against the emulator's strict flavours: the job on the v1 API, then
// the deployment through the control plane (api-version 2026-03-01, its long-running operation
// followed), then an agent's client answering by the deployment's name; and the lifecycle
// `doctor` reports (retirement dates, Developer tier's 24 hours, the inactivity rule, a
// deployment that is gone, a registry TaskForce cannot reach from one process).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { checkRegisteredModels, listRegisteredModels, resolveModel, trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, rejection, useEmulator, useTempDir } from './helpers'
import { cli } from './cli-helpers'
import { recordingProxy } from './azure-helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })
const endpoint = () => fx.emu.url.replace(/\/v1$/, '')

function azure(extra: Record<string, unknown> = {}): any {
  const { baseUrl, ...rest } = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_azure' })
  return { ...rest, azureEndpoint: endpoint(), ...extra }
}

const deployment = (extra: Record<string, unknown> = {}) => ({
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  resourceGroup: 'rg-agents',
  resourceName: 'my-foundry',
  managementUrl: fx.emu.managementUrl,
  ...extra,
})

async function chat(baseUrl: string, model: string): Promise<Response> {
  return fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'api-key': fx.emu.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'A tagline, please' }] }),
  })
}

/** A recording proxy in front of the emulated control plane (and its `managementUrl`). */
let arm: Awaited<ReturnType<typeof recordingProxy>>
beforeAll(async () => {
  arm = await recordingProxy(fx.emu.managementUrl.replace(/\/management$/, ''))
})
afterAll(async () => {
  await arm.close()
})

test('an Azure run with azureDeployment ends with a deployed model that answers by its deployment name', async () => {
  const events: any[] = []
  const scopes: string[] = []
  const from = arm.log.length
  const m = await trainAndRegisterFineTunedModel(
    azure({
      apiKey: fx.emu.apiKey,
      azureDeployment: deployment({ deploymentName: 'writer-prod', managementUrl: `${arm.url}/management` }),
      azureToken: async (scope: string) => {
        scopes.push(scope)
        return fx.emu.apiKey
      },
      onProgress: (e: any) => events.push(e),
    }),
  )
  expect(m.model.name).toBe('writer-prod')
  expect(m.model.baseUrl).toBe(`${endpoint()}/openai/v1`)
  expect(m.deployment).toMatchObject({
    name: 'writer-prod',
    sku: 'Standard',
    capacity: 1,
    provisioningState: 'Succeeded',
    model: m.fineTunedModel,
    apiVersion: '2026-03-01',
  })
  expect(events.filter((e) => e.type === 'deployment').map((e) => e.provisioningState)).toEqual(['Creating', 'Succeeded'])
  // ARM as Microsoft publishes it: PUT at api-version 2026-03-01, answered 201; its long-running
  // operation followed, then the deployment read; every request with a token for ARM's scope
  // (the data plane had a key).
  const calls = arm.log.slice(from)
  expect(calls.map((r) => `${r.method} ${r.path.split('/').slice(-2, -1)[0]} ${r.status}`)).toEqual(
    expect.arrayContaining(['PUT deployments 201', 'GET operationStatuses 200', 'GET deployments 200']),
  )
  const put = calls.find((r) => r.method === 'PUT')!
  expect(put.query.get('api-version')).toBe('2026-03-01')
  expect(put.json).toEqual({
    sku: { name: 'Standard', capacity: 1 },
    properties: { model: { format: 'OpenAI', name: m.fineTunedModel, version: '1' } },
  })
  const firstOp = calls.findIndex((r) => r.path.includes('operationStatuses'))
  const lastGet = calls.map((r) => r.path.includes('/deployments/') && r.method === 'GET').lastIndexOf(true)
  expect(firstOp).toBeGreaterThan(0)
  expect(lastGet).toBeGreaterThan(firstOp)
  expect(calls.every((r) => r.bearer === fx.emu.apiKey && r.auth.join() === 'authorization')).toBe(true)
  expect(new Set(scopes)).toEqual(new Set(['https://management.azure.com/.default']))
  expect(scopes.length).toBe(calls.length)

  // TaskForce's loader: the modelKey resolves to the model its client sends, and the entry says where.
  const registry = JSON.parse(fs.readFileSync(m.registryPath, 'utf8'))
  const entry = registry.writer_azure
  expect(entry.model).toMatchObject({ name: 'writer-prod', provider: 'openai', baseUrl: `${endpoint()}/openai/v1`, apiKeyEnv: 'AZURE_OPENAI_API_KEY' })
  expect(JSON.stringify(entry)).not.toContain(fx.emu.apiKey)
  const model = resolveModel('writer_azure', { registryPath: m.registryPath })
  expect(model).toBe('writer-prod')
  const res = await chat(entry.model.baseUrl, model)
  expect(res.status).toBe(200)
  expect((await res.json()).choices[0].message.content).toContain('A tagline, please')
  // The fine-tuned model's own id is not a deployment: Azure refuses it.
  const undeployed = await chat(entry.model.baseUrl, m.fineTunedModel)
  expect(undeployed.status).toBe(404)
  const [listed] = listRegisteredModels({ registryPath: m.registryPath })
  expect(listed.model.baseUrl).toBe(`${endpoint()}/openai/v1`)

  // doctor: Azure's retirement table (no API key in this process: the dates are not re-read),
  // the training date and the inactivity rule as notes; not failing.
  const [check] = await checkRegisteredModels({ registryPath: m.registryPath })
  expect(check.stopsAnswering).toMatchObject({ at: '2027-10-01', status: 'scheduled' })
  expect(check.stopsAnswering.reason).toContain('Azure OpenAI retires deployments')
  expect(check.failing).toBe(false)
  expect(check.notes.join('\n')).toContain('until no earlier than 2027-04-01')
  expect(check.notes.join('\n')).toContain('15 days')

  // Deleted at Azure (as the inactivity rule would): doctor with a control-plane token sees
  // it, says how to deploy again, and fails.
  const del = await fetch(
    `${fx.emu.managementUrl}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-agents/providers/Microsoft.CognitiveServices/accounts/my-foundry/deployments/writer-prod?api-version=2026-03-01`,
    { method: 'DELETE', headers: { authorization: `Bearer ${fx.emu.apiKey}` } },
  )
  expect(del.status).toBeLessThan(300)
  const run = await cli(['doctor', '--json', '--registry-path', m.registryPath], { AZURE_ACCESS_TOKEN: fx.emu.apiKey })
  expect(run.code).toBe(5)
  const report = JSON.parse(run.stdout.trim().split('\n').pop()!)
  expect(report.models[0].stopsAnswering.status).toBe('deleted')
  expect(report.models[0].stopsAnswering.reason).toContain('az cognitiveservices account deployment create')
  expect(report.models[0].stopsAnswering.reason).toContain(m.fineTunedModel)
}, 60000)

test('a Developer-tier deployment lives 24 hours: doctor says so and fails', async () => {
  const m: any = await trainAndRegisterFineTunedModel(
    azure({ apiKey: fx.emu.apiKey, azureDeployment: deployment({ sku: 'Developer' }), azureToken: async () => fx.emu.apiKey }),
  )
  expect(m.deployment.sku).toBe('DeveloperTier')
  const hours = (Date.parse(m.deployment.expiresAt) - Date.parse(m.deployment.deployedAt)) / 3600e3
  expect(hours).toBe(24)
  const [check] = await checkRegisteredModels({ registryPath: m.registryPath })
  expect(check.stopsAnswering.status).toBe('soon')
  expect(check.stopsAnswering.reason).toContain('24 hours')
  expect(check.failing).toBe(true)
})

test('without a token the entry says deployment: null and gives the az command', async () => {
  const m = await trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, azureDeployment: deployment() }))
  expect(m.deployment).toBeNull()
  expect(m.model.name).toBe(m.fineTunedModel)
  expect(m.deployCommand).toBe(
    `az cognitiveservices account deployment create --subscription 00000000-0000-0000-0000-000000000000 --resource-group rg-agents --name my-foundry --deployment-name writer_azure --model-name ${m.fineTunedModel} --model-version 1 --model-format OpenAI --sku-name Standard --sku-capacity 1`,
  )
  const entry = JSON.parse(fs.readFileSync(m.registryPath, 'utf8')).writer_azure
  expect(entry.fineTune).toHaveProperty('deployment', null)
  expect(listRegisteredModels({ registryPath: m.registryPath })[0].stopsAnswering.status).toBe('undeployed')
})

test('a registry with OpenAI and Azure models: doctor says TaskForce cannot reach both from one process, and what to do', async () => {
  const m = await trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, modelKey: 'azure_writer' }))
  await trainAndRegisterFineTunedModel(pipelineOptions(fx.emu, tmp.dir, { modelKey: 'openai_writer', registryPath: m.registryPath }))
  const checks = await checkRegisteredModels({ registryPath: m.registryPath })
  const notes = Object.fromEntries(checks.map((c: any) => [c.modelKey, c.notes.join('\n')]))
  expect(notes.azure_writer).toContain(`OPENAI_BASE_URL=${endpoint()}/openai/v1`)
  expect(notes.openai_writer).toContain('one process cannot call them all')
})

test('the control plane refuses an unpublished api-version; a bad sku is refused before anything is sent', async () => {
  const err = await rejection(
    trainAndRegisterFineTunedModel(
      azure({ apiKey: fx.emu.apiKey, azureDeployment: deployment({ apiVersion: '2024-10-21' }), azureToken: async () => fx.emu.apiKey }),
    ),
  )
  expect(err.code).toBe('ERR_DEPLOYMENT_FAILED')
  expect(err.status).toBe(400)
  expect(err.message).toContain('2024-10-21')
  const wrong = await rejection(
    trainAndRegisterFineTunedModel(
      azure({ apiKey: fx.emu.apiKey, modelKey: 'wrong_token', azureDeployment: deployment(), azureToken: async () => 'not-the-token' }),
    ),
  )
  expect([wrong.code, wrong.status]).toEqual(['ERR_DEPLOYMENT_FAILED', 401])
  expect(wrong.message).not.toContain('not-the-token')
  const before = fx.emu.stats().requestsTotal
  const bad = await rejection(
    trainAndRegisterFineTunedModel(azure({ apiKey: fx.emu.apiKey, modelKey: 'other', azureDeployment: deployment({ sku: 'Provisioned' }) })),
  )
  expect([bad.code, bad.param]).toEqual(['ERR_INVALID_OPTION', 'azureDeployment.sku'])
  expect(fx.emu.stats().requestsTotal).toBe(before)
})
