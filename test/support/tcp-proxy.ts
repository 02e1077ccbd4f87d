// A TCP proxy the tests can cut: stands between the server and ClickHouse to simulate an outage
// (connections refused and open ones reset) and the recovery, against the stand-in or a real server.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttableProxy {
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port, protocol } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;

  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(port) || 80, hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      server.listen(listenPort, '127.0.0.1', () => {
        const address = server!.address();
        if (typeof address === 'object' && address) listenPort = address.port;
        resolve();
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });

  await open();
  return {
    url: `${protocol}//127.0.0.1:${listenPort}`,
    cut: shut,
    restore: open,
    close: shut,
  };
}
