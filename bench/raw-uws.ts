// The baseline for bench/ingest.ts: the same uWebSockets.js build answering POST /collect with 204
// after reading the body, and doing nothing else. Prints "listening <port>".
import { loadUws } from '../src/http/uws.ts';

const { uws } = loadUws();
uws
  .App()
  .post('/collect', (res) => {
    res.onAborted(() => undefined);
    res.onData((_chunk, isLast) => {
      if (isLast) res.cork(() => res.writeStatus('204 No Content').endWithoutBody());
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) process.exit(1);
    process.stdout.write(`listening ${uws.us_socket_local_port(socket)}\n`);
  });
