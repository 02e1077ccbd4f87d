// A local WhatsApp Business Cloud API for tests: POST /{version}/{phone number id}/messages,
// checked as the Cloud API checks a template message — the bearer token, messaging_product
// "whatsapp", a recipient in international digits, type "template", an approved template by name
// and language, body parameters matching the template's count, and no line breaks, tabs or more
// than four spaces in a parameter (error 132018). Answers like Graph: {messaging_product,
// contacts, messages: [{id}]} or {error: {message, type, code, error_data, fbtrace_id}}.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

export const WHATSAPP = { phoneNumberId: '106540352242922', token: 'EAAG-whatsapp-test-token', version: 'v24.0', to: '905321112233' };

export async function startWhatsApp(templates: Record<string, { language: string; parameters: number }> = { lean_capture_alert: { language: 'tr', parameters: 2 } }) {
  const messages: Array<{ to: string; template: string; language: string; parameters: string[] }> = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fail = (status: number, code: number, message: string, details?: string) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'OAuthException', code, ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}), fbtrace_id: 'Atest' } }));
    };
    if (req.method !== 'POST' || req.url !== `/${WHATSAPP.version}/${WHATSAPP.phoneNumberId}/messages`) return fail(404, 100, `Unsupported post request: ${req.url}`);
    if (req.headers.authorization !== `Bearer ${WHATSAPP.token}`) return fail(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    let body: Record<string, any>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return fail(400, 100, 'Invalid JSON');
    }
    if (body.messaging_product !== 'whatsapp') return fail(400, 100, '(#100) The parameter messaging_product is required.');
    if (!/^\d{8,15}$/.test(String(body.to ?? ''))) return fail(400, 131009, '(#131009) Parameter value is not valid', 'to must be a phone number in international format');
    if (body.type !== 'template') return fail(400, 131047, 'Re-engagement message', 'More than 24 hours have passed since the recipient last replied; only a template can be sent.');
    const known = templates[body.template?.name];
    if (!known || body.template?.language?.code !== known.language) return fail(404, 132001, '(#132001) Template name does not exist in the translation', `template name (${body.template?.name}) does not exist in ${body.template?.language?.code}`);
    const parameters = (body.template.components ?? []).find((c: any) => c.type === 'body')?.parameters ?? [];
    if (parameters.length !== known.parameters) return fail(400, 132000, '(#132000) Number of parameters does not match the expected number of params');
    for (const p of parameters) {
      if (p.type !== 'text' || typeof p.text !== 'string' || p.text === '') return fail(400, 131008, '(#131008) Required parameter is missing');
      if (/[\n\t]| {5,}/.test(p.text)) return fail(400, 132018, '(#132018) There was an issue with the parameters in your template.', 'Param text cannot have new-line/tab characters or more than 4 consecutive spaces');
    }
    messages.push({ to: body.to, template: body.template.name, language: body.template.language.code, parameters: parameters.map((p: any) => p.text) });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.${randomUUID()}` }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
