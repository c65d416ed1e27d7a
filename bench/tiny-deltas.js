// tiny-deltas.js PORT N — an OpenAI-compatible chat server whose answer is
// N characters, each in its own stream event (a 1.9 MB answer is ~106 MB of
// SSE), written as fast as the client takes it: what the answer costs in
// memory is the figure (bench/run turns).
const http = require('http');
const n = +process.argv[3];
http.createServer((req, res) => {
  let body=''; req.on('data', d => body += d); req.on('end', () => {
    res.writeHead(200, {'content-type': 'text/event-stream'});
    let i = 0;
    function pump() {
      let ok = true;
      while (i < n && ok) {
        let s = '';
        for (let k = 0; k < 512 && i < n; k++, i++)
          s += 'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n';
        ok = res.write(s);
      }
      if (i < n) res.once('drain', pump);
      else { res.write('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'); res.end(); }
    }
    pump();
  });
}).listen(+process.argv[2], '127.0.0.1');
