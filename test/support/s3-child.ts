// s3rver in a process of its own, so a test can freeze the store (SIGSTOP) the way a stalled
// endpoint behaves: connections are accepted by the kernel, and nothing ever answers.
import S3rver from 's3rver';

const [directory] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: directory!, configureBuckets: [{ name: 'lc-backups' }] });
const { port } = (await server.run()) as { port: number };
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
