// Proxies between the server and ClickHouse that tests control. A TCP proxy the tests can cut: stands between the server and ClickHouse to simulate an outage
// (connections refused and open ones reset) and the recovery, against the stand-in or a real server.
import { createServer as createHttpServer, request } from 'node:http';
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

export interface ReplyDroppingProxy {
  url: string;
  /** The next `n` INSERTs reach ClickHouse, but their replies are cut off before the client sees them. */
  dropInsertReplies(n: number): void;
  droppedReplies(): number;
  close(): Promise<void>;
}

/** An HTTP proxy that forwards everything and can lose the reply of a successful insert. */
export async function startReplyDroppingProxy(target: string): Promise<ReplyDroppingProxy> {
  const upstream = new URL(target);
  let toDrop = 0;
  let dropped = 0;
  const server = createHttpServer((req, res) => {
    const isInsert = /^\s*INSERT/i.test(new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '');
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        if (isInsert && toDrop > 0) {
          toDrop--;
          dropped++;
          reply.resume();
          reply.on('end', () => req.socket.destroy()); // ClickHouse committed; the client never hears it
          return;
        }
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    dropInsertReplies: (n) => {
      toDrop = n;
    },
    droppedReplies: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
