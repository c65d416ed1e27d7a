// bench/daemon.js DAIMON PEERS — the daemon's figures (bench/run daemon):
// start to ready, resident memory idle and with 10,000 hibernated
// sessions, and messages through the Telegram path end to end with the
// model (aimock) answering at once. Prints one key=value per line.
//
// The Telegram peer (telegram-test-api) runs in this process, so the time
// a message is put in and the time daimon's answer arrives are read from
// the same clock, without a client's polling in between.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const [DAIMON, PEERS] = process.argv.slice(2).map(p => path.resolve(p));
const TelegramServer = require(path.join(PEERS, 'node_modules/telegram-test-api'));
const AIM = path.join(PEERS, 'node_modules/@copilotkit/aimock/dist/cli.js');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'daimon-bench-d.')) + '/home';
const sleep = ms => new Promise(r => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const out = (k, v) => console.log(`${k}=${typeof v === 'number' ? +v.toFixed(2) : v}`);

function status(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = k => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

// One control connection: request() sends a line and resolves with the
// daemon's next line of reply (events of an ask until "done").
function connect(sock) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let buf = '', waiting = [];
    s.on('data', d => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
        if (line.event && line.event !== 'done') continue;
        waiting.shift()(line);
      }
    });
    s.on('error', reject);
    const request = obj => new Promise(r => { waiting.push(r); s.write(JSON.stringify(obj) + '\n'); });
    s.on('connect', async () => {
      const hello = await request({ op: 'hello', version: 1 });
      hello.ok ? resolve({ request, end: () => s.end() }) : reject(new Error(hello.error));
    });
  });
}

async function serve(env) {
  const p = spawn(DAIMON, ['serve'], { env: { ...process.env, DAIMON_HOME: home, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr.on('data', d => process.env.BENCH_VERBOSE && process.stderr.write(d));
  const t0 = now(), sock = `${home}/run/daimon.sock`;
  for (;;) {
    try { const c = await connect(sock); const st = await c.request({ op: 'status' }); if (st.ok) return { p, c, ready: now() - t0 }; } catch (e) { }
    await sleep(1);
  }
}

async function stop(d) {
  const gone = new Promise(r => d.p.on('exit', r));
  await d.c.request({ op: 'stop' });
  await gone;
}

async function main() {
  spawnSync(DAIMON, ['init'], { env: { ...process.env, DAIMON_HOME: home } });
  const cfg = JSON.parse(fs.readFileSync(`${home}/config.json`, 'utf8'));
  cfg.sessions = { idle_minutes: 0.05, summarize: false };  // hibernate after 3 s idle
  cfg.channels.telegram = { mid_turn: 'queue', allow: ['*'], poll_interval_ms: 0, poll_timeout_s: 0 };
  cfg.channels.web = { mid_turn: 'queue', enabled: false }; // (a test's daemon may hold the port)
  fs.writeFileSync(`${home}/config.json`, JSON.stringify(cfg));

  const aport = 30000 + Math.floor(Math.random() * 20000), tport = aport + 1;
  fs.mkdirSync(`${home}/../aim`);
  fs.writeFileSync(`${home}/../aim/f.json`, JSON.stringify({ fixtures: [{ match: { userMessage: '' }, response: { content: 'ok' } }] }));
  const aim = spawn('node', [AIM, '-h', '127.0.0.1', '-p', String(aport), '-f', `${home}/../aim`], { stdio: ['ignore', 'ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore'] });
  aim.on('exit', (code, sig) => console.error(`bench/daemon.js: aimock exited (${code ?? sig})`));
  for (let i = 0; i < 100; i++) { // (the probe closed: aimock's shutdown waits for open connections)
    try { await new Promise((r, j) => { const s = net.connect(aport, '127.0.0.1', () => { s.destroy(); r(); }).on('error', j); }); break; } catch (e) { await sleep(100); }
  }
  const model = { DAIMON_MODEL: 'm', DAIMON_BASE_URL: `http://127.0.0.1:${aport}` };

  // 1. start to ready, and idle memory
  const ready = [], rss = [], anon = [];
  for (let i = 0; i < 10; i++) {
    const d = await serve(model);
    ready.push(d.ready);
    await sleep(1000);
    const m = status(d.p.pid); rss.push(m.rss); anon.push(m.anon);
    await stop(d);
  }
  out('ready_ms', pct(ready, 0.5)); out('ready_ms_max', Math.max(...ready));
  out('idle_rss_kb', pct(rss, 0.5)); out('idle_anon_kb', pct(anon, 0.5));
  out('idle_shared_lib_kb', pct(rss, 0.5) - pct(anon, 0.5));

  // 2. 10,000 sessions, each one turn, then all hibernated
  {
    const d = await serve(model);
    const N = 10000, conns = await Promise.all(Array.from({ length: 16 }, () => connect(`${home}/run/daimon.sock`)));
    let next = 0, failed = 0;
    const t0 = now();
    await Promise.all(conns.map(async c => {
      while (next < N) { const k = next++; const r = await c.request({ op: 'ask', session: `bench:${k}`, text: 'hi' }); if (!r.ok) failed++; }
    }));
    out('session_turns_per_s', N / ((now() - t0) / 1000)); out('session_turns_failed', failed);
    for (let i = 0; i < 300; i++) {
      const st = await d.c.request({ op: 'status' });
      if (st.sessions.hibernated >= N) break;
      await sleep(100);
    }
    const st = await d.c.request({ op: 'status' });
    out('sessions_hibernated', st.sessions.hibernated);
    await sleep(6000); // the housekeeper's trim (every 5 s)
    const m = status(d.p.pid);
    out('rss_10k_sessions_kb', m.rss); out('anon_10k_sessions_kb', m.anon);
    conns.forEach(c => c.end());
    await stop(d);
  }

  // 3. Telegram end to end: one message at a time (latency), then a burst (throughput)
  {
    const tg = new TelegramServer({ port: tport, host: '127.0.0.1', storage: 'RAM', storeTimeout: 3600 });
    await tg.start();
    const token = '123:bench';
    const d = await serve({ ...model, TELEGRAM_BOT_TOKEN: token, DAIMON_TELEGRAM_API_URL: `http://127.0.0.1:${tport}` });
    const sent = new Map(); // chat -> send times, oldest first
    let answered = 0, lat = [], onAnswer = null;
    tg.on('AddedBotMessage', () => {
      const m = tg.storage.botMessages[tg.storage.botMessages.length - 1];
      const q = sent.get(String(m.message.chat_id));
      if (q && q.length) { lat.push(now() - q.shift()); answered++; if (onAnswer) onAnswer(); }
      tg.storage.botMessages.length = 0; // (keep the peer's own work flat)
    });
    const put = (chat, text) => {
      if (!sent.has(String(chat))) sent.set(String(chat), []);
      sent.get(String(chat)).push(now());
      tg.addUserMessage({ botToken: token, from: { id: chat, first_name: 'B' }, chat: { id: chat }, text, date: Date.now() });
    };
    const until = n => new Promise(r => { onAnswer = () => { if (answered >= n) { onAnswer = null; r(); } }; if (answered >= n) r(); });
    for (let i = 0; i < 20; i++) { put(1, 'warm ' + i); await until(answered + 1); }
    lat = []; answered = 0;
    for (let i = 0; i < 300; i++) { put(1 + (i % 10), 'one ' + i); await until(i + 1); }
    out('telegram_p50_ms', pct(lat, 0.5)); out('telegram_p99_ms', pct(lat, 0.99));
    lat = []; answered = 0;
    const M = 3000, t0 = now();
    for (let i = 0; i < M; i++) put(100 + (i % 100), 'burst ' + i);
    await until(M);
    out('telegram_msgs_per_s', M / ((now() - t0) / 1000));
    out('telegram_burst_p99_ms', pct(lat, 0.99));
    out('daemon_rss_after_telegram_kb', status(d.p.pid).rss);
    await stop(d);
    await tg.stop();
  }
  aim.removeAllListeners('exit');
  aim.kill('SIGKILL'); // (nothing of it to keep)
  fs.rmSync(path.dirname(home), { recursive: true, force: true });
}

main().catch(e => { console.error('bench/daemon.js:', e); process.exit(1); });
