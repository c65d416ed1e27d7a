// A recording proxy in front of telegram-test-api: forwards every request
// as it is and appends one JSON line per Bot API call to LOG
// ({"method","body","status","result"}), so the tests see the calls the test server
// lacks (sendChatAction, setMyCommands answer HTTP 500 there) and the
// fields it ignores (parse_mode, reply_markup).
// With FILES, it also answers what the test server lacks for files, as
// the Bot API documents it: getFile?file_id=ID for a file FILES/ID
// ({"ok":true,"result":{"file_id","file_unique_id","file_size","file_path"}},
// else HTTP 400 "Bad Request: invalid file_id"), and the download
// GET /file/bot<token>/<file_path>.
// Usage: node tg-proxy.js PORT TARGET_PORT LOG [FILES]   (prints "ready")
const http = require('http');
const fs = require('fs');
const path = require('path');
const [port, target, log, files] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];

function fileAnswer(req, res) {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/');
  if (parts[1] === 'file' && parts.length >= 5) { // /file/bot<token>/<dir>/<id>
    const f = path.join(files, path.basename(parts[parts.length - 1]));
    if (!fs.existsSync(f)) { res.writeHead(404); res.end('{"ok":false,"error_code":404,"description":"Not Found"}'); return true; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
    return true;
  }
  if (parts[parts.length - 1] !== 'getFile') return false;
  const id = url.searchParams.get('file_id') || '';
  const f = path.join(files, path.basename(id));
  fs.appendFileSync(log, JSON.stringify({ method: 'getFile', body: { file_id: id }, status: 200, result: null }) + '\n');
  res.writeHead(fs.existsSync(f) ? 200 : 400, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(fs.existsSync(f)
    ? { ok: true, result: { file_id: id, file_unique_id: 'u' + id, file_size: fs.statSync(f).size,
        file_path: (/\.(jpg|png)$/.test(id) ? 'photos/' : 'documents/') + id } }
    : { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' }));
  return true;
}

http.createServer((req, res) => {
  if (files && fileAnswer(req, res)) return;
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
