import { SAMPLE_END } from '../../functions/cli/main.ts';
import { parseConfig } from '../../functions/config/load.ts';
import type { RunRequest } from '../../functions/pipeline.ts';

/**
 * The run every bench measures: the weekly report in London time for the sample's last
 * week, over `relation`; with `byChannel`, broken down by the orders' `channel`.
 */
export function benchRequest(
  relation: RunRequest['source']['relation'],
  byChannel = false,
): RunRequest {
  const config = parseConfig({
    source: { relation, ...(byChannel ? { dimensions: { channel: 'channel' } } : {}) },
    reports: [
      {
        id: 'bench',
        name: 'Bench',
        period: 'week',
        timeZone: 'Europe/London',
        ...(byChannel ? { breakdowns: ['channel'] } : {}),
      },
    ],
  });
  const [report] = config.reports;
  if (!report) throw new Error('no report');
  return { report, source: config.source, now: SAMPLE_END };
}
