// Azure OpenAI to the end: the job, then the deployment through the control plane, then an
// agent's client answering by the deployment's name.
import * as fs from 'node:fs'
import { listRegisteredModels, resolveModel, trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, rejection, useEmulator, useTempDir } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })
const endpoint = () => fx.emu.url.replace(/\/v1$/, '')

function azure(extra: Record<string, unknown> = {}): any {
  const { baseUrl, ...rest } = pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_azure' })
  return { ...rest, azureEndpoint: endpoint(), apiVersion: '2024-10-21', ...extra }
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

test('an Azure run with azureDeployment ends with a deployed model that answers by its deployment name', async () => {
  const events: any[] = []
  const m = await trainAndRegisterFineTunedModel(
    azure({
      azureDeployment: deployment({ deploymentName: 'writer-prod' }),
      azureToken: async () => fx.emu.apiKey,
      onProgress: (e: any) => events.push(e),
    }),
  )
  expect(m.model.name).toBe('writer-prod')
  expect(m.model.baseUrl).toBe(`${endpoint()}/openai/v1`)
  expect(m.deployment).toMatchObject({ name: 'writer-prod', sku: 'Standard', capacity: 1, provisioningState: 'Succeeded', model: m.fineTunedModel })
  expect(events.filter((e) => e.type === 'deployment').map((e) => e.provisioningState)).toEqual(['Creating', 'Succeeded'])

  // TaskForce's loader: the modelKey resolves to the model its client sends, and the entry says where.
  const registry = JSON.parse(fs.readFileSync(m.registryPath, 'utf8'))
  const entry = registry.writer_azure
  expect(entry.model).toMatchObject({ name: 'writer-prod', baseUrl: `${endpoint()}/openai/v1`, apiKeyEnv: 'AZURE_OPENAI_API_KEY' })
  expect(JSON.stringify(entry)).not.toContain(fx.emu.apiKey)
  const model = resolveModel('writer_azure', { registryPath: m.registryPath })
  expect(model).toBe('writer-prod')
  const res = await chat(entry.model.baseUrl, model)
  expect(res.status).toBe(200)
  expect((await res.json()).choices[0].message.content).toContain('A tagline, please')
  // The fine-tuned model's own id is not a deployment: Azure refuses it.
  const undeployed = await chat(entry.model.baseUrl, m.fineTunedModel)
  expect(undeployed.status).toBe(404)
  expect((await undeployed.json()).error.code).toBe('DeploymentNotFound')
  const [listed] = listRegisteredModels({ registryPath: m.registryPath })
  expect(listed.model.baseUrl).toBe(`${endpoint()}/openai/v1`)
})

test('without a token the entry says deployment: null and gives the az command', async () => {
  const m = await trainAndRegisterFineTunedModel(azure({ azureDeployment: deployment() }))
  expect(m.deployment).toBeNull()
  expect(m.model.name).toBe(m.fineTunedModel)
  expect(m.deployCommand).toBe(
    `az cognitiveservices account deployment create --subscription 00000000-0000-0000-0000-000000000000 --resource-group rg-agents --name my-foundry --deployment-name writer_azure --model-name ${m.fineTunedModel} --model-version 1 --model-format OpenAI --sku-name Standard --sku-capacity 1`,
  )
  const entry = JSON.parse(fs.readFileSync(m.registryPath, 'utf8')).writer_azure
  expect(entry.fineTune).toHaveProperty('deployment', null)
  expect(listRegisteredModels({ registryPath: m.registryPath })[0].stopsAnswering.status).toBe('undeployed')
})

test('a wrong token is refused by the control plane; a bad sku before anything is sent', async () => {
  const err = await rejection(
    trainAndRegisterFineTunedModel(azure({ azureDeployment: deployment(), azureToken: async () => 'not-the-token' })),
  )
  expect(err.code).toBe('ERR_DEPLOYMENT_FAILED')
  expect(err.status).toBe(401)
  expect(err.message).not.toContain('not-the-token')
  const before = fx.emu.stats().requestsTotal
  const bad = await rejection(
    trainAndRegisterFineTunedModel(azure({ modelKey: 'other', azureDeployment: deployment({ sku: 'Provisioned' }) })),
  )
  expect(bad.code).toBe('ERR_INVALID_OPTION')
  expect(bad.param).toBe('azureDeployment.sku')
  expect(fx.emu.stats().requestsTotal).toBe(before)
})
