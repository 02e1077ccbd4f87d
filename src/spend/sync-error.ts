// Why a spend sync failed, and what to do about it: `transient` (a quota, the platform down)
// retries with backoff; `parked` (a refused token or account) waits until the settings change,
// shown as one clear status; `failed` is anything else, tried again at the next sync.
export class SyncError extends Error {
  constructor(readonly kind: 'transient' | 'parked' | 'failed', message: string) {
    super(message);
  }
}
