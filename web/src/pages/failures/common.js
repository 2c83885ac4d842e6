// pages/failures/common.js - what the two Failures views share: the retry call and its notice.
import { api } from '../../api.js';

/**
 * POST /api/sync/retry with body ({ids}, {flow, entity, runId} or {} for every open failure);
 * resolves to a sentence saying what was queued.
 */
export async function retry(body) {
  const r = await api('POST', '/api/sync/retry', body);
  const n = r?.records ?? 0;
  const jobs = r?.jobs?.length ?? 0;
  if (n === 0) return 'Nothing was queued: no open failure matched (it may have gone through already).';
  return `Queued a retry of ${n} record${n === 1 ? '' : 's'} (${jobs} job${jobs === 1 ? '' : 's'} in the priority lane).`;
}

/** One line of a failure's error (the full text is shown on its own page). */
export function firstLine(text, max = 160) {
  const s = String(text ?? '').split('\n')[0];
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
