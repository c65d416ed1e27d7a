// openai-client.mjs BASE_URL KEY [PNG] — OpenAI's official client (npm
// `openai`) talking to daimon's /v1 door as any client would: the model
// list, a whole completion, a streamed one, a conversation by `user`, a
// picture as a data URL, a broken one, a turn that fails, and a bad key.
// Prints one line per finding for daemon.sh.
import OpenAI from 'openai';
import fs from 'fs';

const [baseURL, apiKey, png] = process.argv.slice(2);
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
  console.log('broken image accepted');
} catch (e) { console.log('broken image ' + e.status + ' ' + e.message); }
if (png) {
  const pic = await client.chat.completions.create({ model: 'daimon', user: 'pictures', messages: [{ role: 'user', content: [
    { type: 'text', text: 'what is in this picture?' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,' + fs.readFileSync(png).toString('base64') } }] }] });
  console.log('image ' + JSON.stringify(pic.choices[0].message.content));
}
try {
  await client.chat.completions.create({ model: 'daimon', user: 'failing', messages: [{ role: 'user', content: 'rate limit me' }] });
  console.log('failure answered 200');
} catch (e) { console.log('failure ' + e.status + ' ' + e.message); }
