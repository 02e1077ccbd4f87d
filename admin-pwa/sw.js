// The owner app's service worker: the app shell from cache (it opens at once, offline too), the
// last admin data when the network is gone (marked with X-LC-Offline so the app says so), and push.
const VERSION = '__VERSION__';
const SHELL = `lc-shell-${VERSION}`;
const DATA = 'lc-data';
const FILES = ['/admin/', '/admin/app.js', '/admin/texts.js', '/admin/texts-en.js', '/admin/texts-tr.js', '/admin/texts-pt-BR.js', '/admin/app.css', '/admin/manifest.webmanifest', '/admin/icon.svg', '/admin/icon-192.png', '/admin/icon-512.png'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith('lc-shell-') && k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== location.origin) return;
  // Logging out (here or everywhere) forgets the kept answers: nobody reads them offline afterwards.
  if (event.request.method === 'DELETE' && /^\/api\/admin\/sessions?$/.test(url.pathname)) event.waitUntil(caches.delete(DATA));
  if (event.request.method !== 'GET') return;
  if (url.pathname.startsWith('/api/admin/')) {
    event.respondWith(
      fetch(event.request)
        .then((res) => {
          if (res.status === 401) event.waitUntil(caches.delete(DATA)); // logged out elsewhere, or the session ended
          else if (res.ok && !/no-store/.test(res.headers.get('Cache-Control') || '')) {
            const copy = res.clone(); // now: once the page reads the body, it cannot be cloned
            event.waitUntil(caches.open(DATA).then((cache) => cache.put(event.request, copy)));
          }
          return res;
        })
        .catch(async () => {
          const cached = await caches.match(event.request);
          if (!cached) return new Response(JSON.stringify({ title: 'Offline' }), { status: 503, headers: { 'Content-Type': 'application/json', 'X-LC-Offline': '1' } });
          const headers = new Headers(cached.headers);
          headers.set('X-LC-Offline', '1');
          return new Response(cached.body, { status: cached.status, headers });
        }),
    );
    return;
  }
  if (url.pathname.startsWith('/admin/')) {
    const key = FILES.includes(url.pathname) ? url.pathname : '/admin/';
    event.respondWith(caches.match(key).then((cached) => cached || fetch(event.request)));
  }
});

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data ? event.data.text() : 'Lean Capture' };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || 'Lean Capture', {
      body: data.body || '',
      tag: data.leadId || undefined,
      icon: '/admin/icon-192.png',
      badge: '/admin/icon-192.png',
      data: { url: data.url || '/admin/' },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || '/admin/', location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith('/admin/'));
      if (open) return open.navigate(target).then((w) => (w || open).focus());
      return self.clients.openWindow(target);
    }),
  );
});
