// Backups from the admin API: the backup script (over SSH, with ADMIN_TOKEN) or the PWA starts
// one in this process — the only one that can read the embedded ClickHouse — and follows it.
import { json, problem, type Reply } from '../http/reply.ts';
import type { Route } from '../http/server.ts';
import type { Backups } from '../backup/service.ts';
import { ownerOnly, type AdminAuth } from './auth.ts';

export function backupRoutes(auth: AdminAuth, backups: Backups): Route[] {
  return [
    { method: 'get', path: '/api/admin/backups', guards: [ownerOnly(auth)], handler: () => json(200, backups.status()) },
    { method: 'post', path: '/api/admin/backups', guards: [ownerOnly(auth)], handler: () => startBackup(backups) },
  ];
}

function startBackup(backups: Backups): Reply {
  if (!backups.configured) return problem(409, 'backups-not-configured', 'Backups are not configured', 'Set S3_BUCKET (and the other S3_* keys) and restart.');
  const { started } = backups.start();
  if (!started) return problem(409, 'backup-running', 'A backup is already running', 'Follow it with GET /api/admin/backups.', { backup: backups.status() });
  return json(202, backups.status());
}
