// mcp-client.mjs — the TypeScript SDK's MCP client against a server over
// stdio: `node mcp-client.mjs COMMAND [ARGS...]` lists the server's tools
// and runs the calls given as JSON lines on stdin ({"name","arguments"}),
// printing "tools NAME,NAME…" then, per call, "call NAME error?: TEXT".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync } from 'node:fs';

const [command, ...args] = process.argv.slice(2);
const client = new Client({ name: 'daimon-test', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command, args, env: process.env, stderr: 'inherit' }));
const { tools } = await client.listTools();
console.log('tools ' + tools.map((t) => t.name).join(','));
for (const line of readFileSync(0).toString().split('\n').filter(Boolean)) {
  const call = JSON.parse(line);
  const r = await client.callTool(call);
  console.log(`call ${call.name}${r.isError ? ' error' : ''}: ${r.content.map((c) => c.text).join(' ').replace(/\n/g, ' | ')}`);
}
await client.close();
