// Start CongoDB (from @push.rocks/smartmongo) on HOST:PORT with in-memory storage, and stop
// it cleanly on SIGTERM/SIGINT. Run by scripts/services/congodb.sh from its install folder.
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js';

const host = process.env.CONGODB_HOST ?? '127.0.0.1';
const port = Number(process.env.CONGODB_PORT ?? '27117');

const server = new CongoServer({ host, port, storage: 'memory' });
await server.start();
console.log(`congodb: listening on ${host}:${port}`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`congodb: ${signal}, stopping`);
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
