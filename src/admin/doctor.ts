// The connections check from the admin API: GET runs every check (nothing is sent that a person
// would see); POST with {"send": true} also sends the test notifications (Telegram, push).
// GET /api/admin/doctor/last answers the last report at once (the app's banner, the screen's first view).
import type { DoctorService } from '../doctor/service.ts';
import { json, problem } from '../http/reply.ts';
import { readJsonObject } from '../http/json.ts';
import type { Route } from '../http/server.ts';
import { ownerOnly, type AdminAuth } from './auth.ts';

export function doctorRoutes(auth: AdminAuth, doctor: DoctorService): Route[] {
  return [
    { method: 'get', path: '/api/admin/doctor', guards: [ownerOnly(auth)], handler: async () => json(200, await doctor.run()) },
    { method: 'get', path: '/api/admin/doctor/last', guards: [ownerOnly(auth)], handler: () => json(200, doctor.last() ?? null) },
    {
      method: 'post',
      path: '/api/admin/doctor',
      guards: [ownerOnly(auth)],
      maxBody: 1024,
      async handler(req) {
        const body = req.body.length === 0 ? {} : readJsonObject(req.body);
        if (!body) return problem(400, 'invalid-json', 'Body is not a JSON object', 'Send {"send": true} to also send the test notifications, or no body.');
        return json(200, await doctor.run(body.send === true));
      },
    },
  ];
}
