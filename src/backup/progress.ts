// Progress of a long backup or restore on the admin's terminal: step, percentage, amount and ETA
// on one line redrawn in place (a terminal), or a line per step and every 10 % (cron, logs).
import type { Progress } from './backup.ts';

export function terminalProgress(label: string, out: NodeJS.WriteStream = process.stderr): { update: (p: Progress) => void; end: () => void } {
  let step = '';
  let stepStart = 0;
  let stepStartDone = 0;
  let lastDecile = -1;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (p.step !== step) {
        if (drawn && out.isTTY) out.write('\n');
        step = p.step;
        stepStart = now;
        stepStartDone = p.done;
        lastDecile = -1;
      }
      const share = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
      const decile = Math.floor(share * 10);
      if (out.isTTY ? now - lastDraw < 100 && share < 1 : decile === lastDecile) return;
      lastDraw = now;
      lastDecile = decile;
      const rate = (p.done - stepStartDone) / Math.max(1, now - stepStart);
      const eta = rate > 0 && share < 1 ? ` · ETA ${formatDuration((p.total - p.done) / rate)}` : '';
      const line = `[${label}] ${p.step}: ${Math.round(share * 100)}% · ${formatAmount(p.done, p.unit)} of ${formatAmount(p.total, p.unit)}${eta}`;
      out.write(out.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
      drawn = true;
    },
    end() {
      if (drawn && out.isTTY) out.write('\n');
    },
  };
}

export function formatAmount(n: number, unit: Progress['unit']): string {
  if (unit === 'bytes') return formatBytes(n);
  return `${n.toLocaleString('en-US')} ${unit}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
