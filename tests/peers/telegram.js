// Starts telegram-test-api (shared/PEERS.md) on 127.0.0.1:PORT for the
// end-to-end tests and the benchmark; prints "ready" once it listens.
const TelegramServer = require('telegram-test-api');
const port = Number(process.argv[2] || 9000);
const server = new TelegramServer({ port, host: '127.0.0.1', storage: 'RAM', storeTimeout: 3600 });
server.start().then(() => console.log('ready'));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
