// bench/schedule.js DAIMON PEERS — the scheduler's figures (bench/run
// schedule): how late 1,000 jobs due in the same second start
// (fire_delay_ms_p50/p99, from each job's due time to its "run started"
// record), how long until Telegram (telegram-test-api, in this process)
// took all 1,000; resident memory with 10,000 jobs waiting beside the
// idle daemon's, and the CPU the daemon uses over 10 s with them waiting
// (clock ticks, /proc/PID/stat utime+stime). Prints key=value lines.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [DAIMON, PEERS] = process.argv.slice(2).map(p => path.resolve(p));
const TelegramServer = require(path.join(PEERS, 'node_modules/telegram-test-api'));
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'daimon-bench-s.')) + '/home';
const env = { ...process.env, DAIMON_HOME: home };
const sleep = ms => new Promise(r => setTimeout(r, ms));
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const out = (k, v) => console.log(`${k}=${typeof v === 'number' ? +v.toFixed(2) : v}`);
const rss = pid => Number((fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m) || [])[1]);
const ticks = pid => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return +f[11] + +f[12]; };

async function serve() {
  const p = spawn(DAIMON, ['serve'], { env, stdio: ['ignore', 'ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore'] });
  for (;;) {
    if (spawnSync(DAIMON, ['status'], { env }).status === 0) return p;
    await sleep(5);
  }
}
async function stop(p) {
  const gone = new Promise(r => p.on('exit', r));
  spawnSync(DAIMON, ['stop'], { env });
  await gone;
}
function jobs(n, first, every, prefix) { // job records, as memory/schedule.h has them
  const ts = new Date().toISOString(), lines = [];
  for (let i = 0; i < n; i++) {
    const id = prefix + String(i).padStart(7, '0');
    const j = { type: 'job', id, kind: 'message', text: `reminder ${i}`, key: `telegram:${1000 + (i % 50)}`, to: '',
      at: first(i), spec: 'bench', ts };
    if (every) j.every = every;
    lines.push(JSON.stringify(j));
  }
  fs.appendFileSync(`${home}/schedule.jsonl`, lines.join('\n') + '\n');
}

async function main() {
  spawnSync(DAIMON, ['init'], { env });
  const cfg = JSON.parse(fs.readFileSync(`${home}/config.json`, 'utf8'));
  cfg.channels.telegram = { mid_turn: 'queue', allow: ['*'], poll_interval_ms: 1000, poll_timeout_s: 0, stream_ms: 0 };
  cfg.channels.web = { mid_turn: 'queue', enabled: false };
  cfg.schedule = { min_interval_s: 1 };
  fs.writeFileSync(`${home}/config.json`, JSON.stringify(cfg));
  const tport = 30000 + Math.floor(Math.random() * 20000);
  const tg = new TelegramServer({ port: tport, host: '127.0.0.1', storeTimeout: 600 });
  await tg.start();
  Object.assign(env, { TELEGRAM_BOT_TOKEN: '123:abc', DAIMON_TELEGRAM_API_URL: `http://127.0.0.1:${tport}`,
    DAIMON_BASE_URL: 'http://127.0.0.1:1', DAIMON_MODEL: 'm' });

  // Telegram is off while the daemon idles (its polling is not the
  // scheduler's cost) and on for the deliveries.
  const telegram = on => { cfg.channels.telegram.enabled = on; fs.writeFileSync(`${home}/config.json`, JSON.stringify(cfg)); };
  telegram(false);
  let d = await serve();
  await sleep(3000);
  const idle = rss(d.pid);
  await stop(d);

  const now = Date.now();
  jobs(10000, i => now + 3600e3 + i * 1000, 86400e3, 'w');
  d = await serve();
  await sleep(3000);
  const with10k = rss(d.pid), t0 = ticks(d.pid);
  await sleep(10000);
  const idleTicks = ticks(d.pid) - t0;
  await stop(d);

  telegram(true);
  const due = Math.ceil(Date.now() / 1000) * 1000 + 4000;
  jobs(1000, i => due + i, 0, 'f'); // all within one second
  d = await serve();
  const deadline = Date.now() + 60000;
  let delays = [], done = 0;
  while (Date.now() < deadline) {
    await sleep(200);
    delays = []; done = 0;
    let last = 0;
    for (const l of fs.readFileSync(`${home}/schedule.jsonl`, 'utf8').split('\n')) {
      if (!l.includes('"id":"f')) continue;
      const r = JSON.parse(l);
      if (r.type === 'run' && r.state === 'started') delays.push(Date.parse(r.ts) - r.slot);
      if (r.type === 'delivery' && r.state === 'ok') { done++; last = Math.max(last, Date.parse(r.ts)); }
    }
    if (done === 1000) { out('deliver_1000_ms', last - due); break; }
  }
  await stop(d);
  await tg.stop();
  out('fire_delay_ms_p50', pct(delays, 0.5));
  out('fire_delay_ms_p99', pct(delays, 0.99));
  out('fired', delays.length);
  out('delivered', done);
  out('idle_rss_kb', idle);
  out('rss_10k_jobs_kb', with10k);
  out('rss_10k_jobs_added_kb', with10k - idle);
  out('idle_cpu_ticks_10s', idleTicks);
  fs.rmSync(path.dirname(home), { recursive: true, force: true });
}
main().catch(e => { console.error(e); process.exit(1); });
