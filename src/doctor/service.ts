// The connections check inside the server: one run at a time (a second caller gets the same
// result), the last report kept in SQLite so the owner's app can show a banner while something
// fails, and a run of its own shortly after start and then daily — a fresh install learns what is
// missing without anyone asking.
import type { Settings } from '../db/settings.ts';
import type { Logger } from '../log.ts';
import type { DoctorReport } from './report.ts';

const LAST = 'doctor.last';

export interface DoctorSummary {
  at: string;
  ok: boolean;
  /** The integrations with a failing check, in report order. */
  failing: string[];
}

export class DoctorService {
  private running: Promise<DoctorReport> | undefined;

  constructor(private readonly runChecks: (options: { send: boolean }) => Promise<DoctorReport>, private readonly settings: Settings, private readonly log: Logger) {}

  run(send = false): Promise<DoctorReport> {
    this.running ??= this.runChecks({ send })
      .then((report) => {
        this.settings.put(LAST, JSON.stringify(report));
        return report;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  last(): DoctorReport | undefined {
    const text = this.settings.get(LAST);
    return text === undefined ? undefined : (JSON.parse(text) as DoctorReport);
  }

  summary(): DoctorSummary | null {
    const last = this.last();
    if (!last) return null;
    return { at: last.at, ok: last.ok, failing: [...new Set(last.checks.filter((c) => c.status === 'fail').map((c) => c.integration))] };
  }

  /** A run `firstMs` after start, then every `everyMs`; returns the stop function. */
  schedule(firstMs = 30_000, everyMs = 86_400_000): () => void {
    const runLogged = () =>
      this.run().then(
        (r) => this.log.info({ ok: r.ok, failing: this.summary()?.failing }, r.ok ? 'connections check passed' : 'connections check found problems: npm run doctor, or Settings → Connections'),
        (err: unknown) => this.log.error({ err }, 'connections check could not run'),
      );
    const first = setTimeout(runLogged, firstMs);
    const every = setInterval(runLogged, everyMs);
    first.unref();
    every.unref();
    return () => {
      clearTimeout(first);
      clearInterval(every);
    };
  }
}
