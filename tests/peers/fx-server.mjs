// fx-server.mjs — an MCP server (the TypeScript SDK's Server over stdio)
// whose tools have side effects a test can count: each run of `pay` or
// `mail` appends a line "TOOL KEY ARGS" to $FX_FILE. `pay` is idempotent
// the way a payment API is: a repeat of a key already paid changes
// nothing. tools/list is paged (two tools a page); `grow` adds a tool and
// says notifications/tools/list_changed; `wait` writes down a cancel
// (notifications/cancelled) it was told of.
import { appendFileSync, readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListToolsRequestSchema, CallToolRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const file = process.env.FX_FILE;
const obj = (props) => ({ type: 'object', properties: props });
const tools = [
  { name: 'pay', description: 'Pay an amount.', inputSchema: obj({ amount: { type: 'number' } }),
    annotations: { readOnlyHint: false, idempotentHint: true } },
  { name: 'mail', description: 'Send a mail.', inputSchema: obj({ to: { type: 'string' } }),
    annotations: { readOnlyHint: false, idempotentHint: false } },
  { name: 'look', description: 'Look around.', inputSchema: obj({}), annotations: { readOnlyHint: true } },
  { name: 'grow', description: 'Add a tool.', inputSchema: obj({}), annotations: { readOnlyHint: true } },
  { name: 'wait', description: 'Wait ms milliseconds (a cancel is written down).',
    inputSchema: obj({ ms: { type: 'number' } }), annotations: { readOnlyHint: true } },
  { name: 'key', description: 'Say the idempotency key it was given.', inputSchema: obj({}),
    annotations: { readOnlyHint: false, idempotentHint: true } },
];
const server = new Server({ name: 'fx', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
server.setRequestHandler(ListToolsRequestSchema, async (req) => {
  const at = Number(req.params?.cursor ?? 0);
  const page = tools.slice(at, at + 2);
  return at + 2 < tools.length ? { tools: page, nextCursor: String(at + 2) } : { tools: page };
});
server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
  const { name, arguments: args } = req.params;
  const key = req.params._meta?.['daimon/idempotencyKey'] ?? '';
  const text = (t) => ({ content: [{ type: 'text', text: t }] });
  if (name === 'pay') {
    const done = file ? readFileSync(file, { flag: 'a+' }).toString() : '';
    if (key && done.split('\n').some((l) => l.startsWith(`pay ${key} `))) return text(`already paid (${key})`);
    appendFileSync(file, `pay ${key} ${JSON.stringify(args)}\n`);
    return text(`paid ${args.amount}`);
  }
  if (name === 'mail') {
    appendFileSync(file, `mail ${key} ${JSON.stringify(args)}\n`);
    return text(`mailed ${args.to}`);
  }
  if (name === 'look') return text('all quiet');
  if (name === 'wait')
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(text('waited')), args.ms);
      extra.signal.addEventListener('abort', () => {
        clearTimeout(t);
        appendFileSync(file, `cancelled wait ${extra.signal.reason ?? ''}\n`);
        resolve(text('cancelled'));
      });
    });
  if (name === 'key') return text(`key=${key}`);
  if (name === 'grow') {
    if (!tools.some((t) => t.name === 'grown'))
      tools.push({ name: 'grown', description: 'A tool added later.', inputSchema: obj({}) });
    await server.sendToolListChanged();
    return text('grown');
  }
  return { content: [{ type: 'text', text: `no tool ${name}` }], isError: true };
});
await server.connect(new StdioServerTransport());
