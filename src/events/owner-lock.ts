// One process at a time owns DATA_DIR's journal: a second server on the same DATA_DIR would
// interleave segments, and the backup script must know whether a server is running. The owner
// is recorded in owner.pid as "pid start-time", so a pid reused by another process after a crash
// or a reboot is not mistaken for a live owner.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Makes this process the journal's owner; returns the pid of another live owner instead, if any. */
export function takeOwnership(dir: string): number | undefined {
  const owner = journalOwner(dir);
  if (owner !== undefined && owner !== process.pid) return owner;
  writeFileSync(join(dir, 'owner.pid'), `${process.pid} ${processStart(process.pid) ?? ''}`.trim()); // a crashed owner's file is taken over
  return undefined;
}

export function releaseOwnership(dir: string): void {
  rmSync(join(dir, 'owner.pid'), { force: true });
}

/** The pid of the live process that owns this journal (a running server), if any. */
export function journalOwner(dir: string): number | undefined {
  const path = join(dir, 'owner.pid');
  if (!existsSync(path)) return undefined;
  const [pidText, started] = readFileSync(path, 'utf8').trim().split(' ');
  const pid = Number(pidText);
  return Number.isInteger(pid) && isAlive(pid) && (started === undefined || processStart(pid) === started) ? pid : undefined;
}

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), where /proc exists. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
