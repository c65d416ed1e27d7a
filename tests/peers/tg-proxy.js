// A recording proxy in front of telegram-test-api: forwards every request
// as it is and appends one JSON line per Bot API call to LOG
// ({"method","body","status","result"}), so the tests see the calls the test server
// lacks (sendChatAction, setMyCommands answer HTTP 500 there) and the
// fields it ignores (parse_mode, reply_markup).
// Usage: node tg-proxy.js PORT TARGET_PORT LOG   (prints "ready")
const http = require('http');
const fs = require('fs');
const [port, target, log] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c)).on('end', () => {
    const body = Buffer.concat(chunks);
    const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method,
      headers: { ...req.headers, host: `127.0.0.1:${target}` } }, r => {
      const back = [];
      r.on('data', c => back.push(c)).on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(body.toString() || 'null'); } catch (e) { parsed = body.toString(); }
        const method = req.url.split('?')[0].split('/').pop();
        let result = null;
        try { result = JSON.parse(Buffer.concat(back).toString()).result; } catch (e) { /* not JSON */ }
        if (method !== 'getUpdates')
          fs.appendFileSync(log, JSON.stringify({ method, body: parsed, status: r.statusCode, result }) + '\n');
        res.writeHead(r.statusCode, r.headers);
        res.end(Buffer.concat(back));
      });
    });
    up.on('error', e => { res.writeHead(502); res.end(String(e)); });
    up.end(body);
  });
}).listen(port, '127.0.0.1', () => console.log('ready'));
