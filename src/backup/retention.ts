// Which backups to keep: the newest backup of each of the last `daily` days, `weekly` ISO weeks
// and `monthly` months that have one (grandfather-father-son). Everything else may be pruned;
// objects are deleted only when no kept backup refers to them.

export interface Keep {
  daily: number;
  weekly: number;
  monthly: number;
}

/** Returns the ids to keep among backups taken at `at` (ms, UTC). */
export function backupsToKeep(backups: Array<{ id: string; at: number }>, keep: Keep): Set<string> {
  const newestFirst = [...backups].sort((a, b) => b.at - a.at);
  const kept = new Set<string>();
  const pick = (bucketOf: (at: number) => string, count: number) => {
    const seen = new Set<string>();
    for (const b of newestFirst) {
      if (seen.size >= count) break;
      const bucket = bucketOf(b.at);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      kept.add(b.id);
    }
  };
  pick((at) => new Date(at).toISOString().slice(0, 10), keep.daily);
  pick(isoWeek, keep.weekly);
  pick((at) => new Date(at).toISOString().slice(0, 7), keep.monthly);
  return kept;
}

/** ISO 8601 week, e.g. "2026-W47" (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(at: number): string {
  const d = new Date(at);
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}
