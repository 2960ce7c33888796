import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DirLedgerStore, type DeliveryRecord } from '../../functions/delivery/ledger.ts';

// The folder ledger is what the laptop and the exactly-once tests run on: its lock must
// not be lost by a holder that pauses, nor outlive a holder that was killed.

const record: DeliveryRecord = {
  key: 'weekly/2026-W47/leaders',
  runId: 'r1',
  leaseUntil: '2026-11-23T07:15:00.000Z',
  state: 'in-progress',
  batches: [{ recipients: ['ceo@example.com'], state: 'pending' }],
};

function fresh(): { dir: string; store: DirLedgerStore; lock: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
  return { dir, store: new DirLedgerStore(dir), lock: join(dir, `${record.key}.json.lock`) };
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('the folder ledger lock', () => {
  test('a holder that pauses past the old 5 s staleness keeps its lock', async () => {
    const { store, lock } = fresh();
    const v1 = (await store.create(record)) ?? '';
    // Another live process (here: this one, with another token) holds the lock.
    writeFileSync(lock, `${process.pid} someone-else`);
    let done = false;
    const waiting = store.replace({ ...record, runId: 'r2' }, v1).then((v) => {
      done = true;
      return v;
    });
    await new Promise((r) => setTimeout(r, 5_500));
    expect(done).toBe(false);
    expect((await store.read(record.key))?.record.runId).toBe('r1');
    await rm(lock);
    expect(await waiting).not.toBeNull();
    expect((await store.read(record.key))?.record.runId).toBe('r2');
  }, 15_000);

  test("a killed holder's lock is broken at once, and only the holder's own lock is removed", async () => {
    const { dir, store, lock } = fresh();
    const v1 = (await store.create(record)) ?? '';
    writeFileSync(lock, `${deadPid()} killed-holder`);
    const started = Date.now();
    const v2 = await store.replace({ ...record, runId: 'r2' }, v1);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(v2).not.toBeNull();
    expect(existsSync(lock)).toBe(false);
    // No lock, breaker or staging file is left behind.
    expect(readdirSync(join(dir, 'weekly', '2026-W47'))).toEqual(['leaders.json']);
  });

  test('concurrent steps from many callers serialize: one compare-and-swap wins per version', async () => {
    const { store } = fresh();
    const v1 = (await store.create(record)) ?? '';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.replace({ ...record, runId: `r${i}` }, v1)),
    );
    expect(results.filter((v) => v !== null)).toHaveLength(1);
  });
});
