/** The one line under the training progress bar. Pure; tested in test/renderer/review.test.ts. */
import type { JobView } from './jobs.js';
import { formatDuration, formatNumber, formatPercent } from './format.js';

export function trainStatusLine(job: JobView): string {
  const last = job.history.at(-1);
  const parts: string[] = [];
  if (job.epoch) parts.push(`Epoch ${job.epoch}`);
  // No summed loss: it is mostly KL/N on a small folder (spec §3); the fit and the KL penalty go apart below.
  if (job.device) parts.push(`on ${job.device} (${job.backend})`);
  // The validation numbers are the last finished epoch's, not the running one's: say which.
  if (last)
    parts.push(
      `after epoch ${last.epoch}: fit (NLL) train ${formatNumber(last.trainNll, 3)} · validation ${formatNumber(last.valNll, 3)} · KL penalty per image ${formatNumber(last.kl, 1)} · val accuracy ${formatPercent(last.valAccuracy)} · val ECE ${formatNumber(last.valEce, 3)} · epoch took ${formatDuration(last.seconds)}`,
    );
  return parts.join(' · ');
}
