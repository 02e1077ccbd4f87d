// The connections check from the admin API: GET runs every check (nothing is sent that a person
// would see); POST with {"send": true} also sends the test notifications (Telegram, push). One run
// at a time: a second request while one runs gets the same result.
import type { DoctorReport } from '../doctor/report.ts';
import { json, problem } from '../http/reply.ts';
import { readJsonObject } from '../http/json.ts';
import type { Route } from '../http/server.ts';
import { ownerOnly, type AdminAuth } from './auth.ts';

export function doctorRoutes(auth: AdminAuth, run: (options: { send: boolean }) => Promise<DoctorReport>): Route[] {
  let running: Promise<DoctorReport> | undefined;
  const once = (send: boolean) => {
    running ??= run({ send }).finally(() => (running = undefined));
    return running;
  };
  return [
    { method: 'get', path: '/api/admin/doctor', guards: [ownerOnly(auth)], handler: async () => json(200, await once(false)) },
    {
      method: 'post',
      path: '/api/admin/doctor',
      guards: [ownerOnly(auth)],
      maxBody: 1024,
      async handler(req) {
        const body = req.body.length === 0 ? {} : readJsonObject(req.body);
        if (!body) return problem(400, 'invalid-json', 'Body is not a JSON object', 'Send {"send": true} to also send the test notifications, or no body.');
        return json(200, await once(body.send === true));
      },
    },
  ];
}
