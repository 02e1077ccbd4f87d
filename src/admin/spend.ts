// Ad spend from the admin API: the sync's state (platforms, progress, last result, parked
// platforms) and "sync now" (202: it runs in the background; follow GET /api/admin/spend).
import type { SpendSync } from '../spend/sync.ts';
import { json, problem } from '../http/reply.ts';
import type { Route } from '../http/server.ts';
import { ownerOnly, type AdminAuth } from './auth.ts';

export function spendRoutes(auth: AdminAuth, sync: SpendSync): Route[] {
  return [
    { method: 'get', path: '/api/admin/spend', guards: [ownerOnly(auth)], handler: () => json(200, sync.status()) },
    {
      method: 'post',
      path: '/api/admin/spend/sync',
      guards: [ownerOnly(auth)],
      handler() {
        if (sync.platforms.length === 0) return problem(409, 'spend-not-configured', 'No ad platform to read spend from', 'Set GOOGLE_ADS_DEVELOPER_TOKEN (with the GOOGLE_* keys) or META_AD_ACCOUNT_ID (with the META_* keys), and restart.');
        void sync.run().catch(() => undefined);
        return json(202, sync.status());
      },
    },
  ];
}
