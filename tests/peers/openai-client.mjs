// openai-client.mjs BASE_URL KEY — OpenAI's official client (npm `openai`)
// talking to daimon's /v1 door as any client would: the model list, a
// whole completion, a streamed one, a conversation by `user`, and a bad
// key. Prints one line per finding for daemon.sh.
import OpenAI from 'openai';

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const models = await client.models.list();
console.log('models ' + models.data.map(m => m.id).join(','));
const whole = await client.chat.completions.create({ model: 'daimon', messages: [{ role: 'user', content: 'hello' }] });
console.log('whole ' + whole.object + ' ' + JSON.stringify(whole.choices[0].message) + ' ' + whole.choices[0].finish_reason);
const stream = await client.chat.completions.create({ model: 'daimon', stream: true, user: 'editor',
  messages: [{ role: 'system', content: 'ignored: daimon has its own' }, { role: 'user', content: [{ type: 'text', text: 'stream please' }] }] });
let text = '', chunks = 0, finish = null;
for await (const c of stream) { chunks++; text += c.choices[0]?.delta?.content || ''; finish = c.choices[0]?.finish_reason || finish; }
console.log('stream ' + chunks + ' chunks ' + JSON.stringify(text) + ' ' + finish);
try {
  await new OpenAI({ baseURL, apiKey: 'dk-nope', maxRetries: 0 }).models.list();
  console.log('bad key accepted');
} catch (e) { console.log('bad key ' + e.status + ' ' + e.message); }
try {
  await client.chat.completions.create({ model: 'daimon', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] });
  console.log('image accepted');
} catch (e) { console.log('image ' + e.status + ' ' + e.message); }
