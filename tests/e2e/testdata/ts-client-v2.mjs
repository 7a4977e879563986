// A real second MCP client for the e2e suite: the official TypeScript SDK v2
// (@modelcontextprotocol/client), installed by `scripts/install-mcp-npm.sh tsclient`.
//
//   node ts-client-v2.mjs URL TOKEN MODE SERVER
//
// MODE is "pin" (2026-07-28 exactly, no fallback) or "auto" (probe, fall back to the 2025
// handshake). SERVER is everything, memory or filesystem and picks what is exercised.
// The access token comes from the gateway's real OAuth flow (the Go test runs it). It
// prints one JSON line: what was negotiated and what each step saw; a failed step makes
// the process exit 1 with the error.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [url, token, mode, server] = process.argv.slice(2);
const out = { steps: {} };
let sampled = false;
let elicited = false;
const client = new Client(
  { name: 'e2e-typescript-sdk-v2', version: '1.0.0' },
  {
    capabilities: { sampling: {}, elicitation: {} },
    versionNegotiation: { mode: mode === 'pin' ? { pin: '2026-07-28' } : 'auto' },
  },
);
client.setRequestHandler('sampling/createMessage', async () => {
  sampled = true;
  return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: 'sampled answer 42' } };
});
client.setRequestHandler('elicitation/create', async () => {
  elicited = true;
  return { action: 'decline' };
});
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});

const text = (res) => (res.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

async function main() {
  await client.connect(transport);
  out.era = client.getProtocolEra();
  out.version = client.getNegotiatedProtocolVersion();
  out.sessionId = transport.sessionId ?? '';
  const tools = (await client.listTools()).tools.map((t) => t.name);
  out.steps.tools = tools.length;
  if (server === 'everything') {
    out.steps.echo = text(await client.callTool({ name: 'echo', arguments: { message: 'hello from v2' } }));
    const progress = [];
    const long = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    out.steps.progress = progress;
    out.steps.long = text(long);
    const resources = (await client.listResources()).resources;
    const read = await client.readResource({ uri: resources[0].uri });
    out.steps.resource = read.contents[0].uri === resources[0].uri;
    const prompts = (await client.listPrompts()).prompts;
    const simple = prompts.find((p) => !p.arguments || p.arguments.length === 0);
    out.steps.prompt = (await client.getPrompt({ name: simple.name })).messages.length;
    out.steps.sampling = text(await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi' } }));
    out.steps.sampled = sampled;
    await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    out.steps.elicited = elicited;
  } else if (server === 'memory') {
    const name = `v2-${mode}-${Date.now()}`;
    await client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name, entityType: 'test', observations: ['stored by the v2 SDK'] }] },
    });
    out.steps.graph = text(await client.callTool({ name: 'read_graph', arguments: {} })).includes(name);
  } else if (server === 'filesystem') {
    out.steps.list = text(await client.callTool({ name: 'list_allowed_directories', arguments: {} }));
    const path = out.steps.list.split('\n').find((l) => l.startsWith('/'));
    out.steps.write = text(
      await client.callTool({ name: 'write_file', arguments: { path: `${path}/v2-${mode}.txt`, content: 'written by v2' } }),
    );
    out.steps.read = text(await client.callTool({ name: 'read_text_file', arguments: { path: `${path}/v2-${mode}.txt` } }));
  }
  await client.close();
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(`ts-client-v2 ${mode} ${server}: ${err?.stack ?? err}`);
  console.log(JSON.stringify(out));
  process.exit(1);
});
