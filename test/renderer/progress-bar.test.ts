import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import ProgressBar from '../../src-renderer/components/ProgressBar.svelte';
import type { JobView } from '../../src-renderer/lib/jobs.js';

afterEach(() => cleanup());

const job = (over: Partial<JobView>): JobView => ({
  jobId: 'j',
  kind: 'train',
  title: 'Train',
  state: 'running',
  startedAt: 0,
  done: 10,
  total: 42,
  unit: 'images',
  etaSeconds: 16,
  phase: 'cancelling',
  history: [],
  updatedAt: 5000,
  ...over,
});

describe('ProgressBar', () => {
  it('shows phase and time left while running', () => {
    render(ProgressBar, { props: { job: job({}), label: 'Training' } });
    const group = screen.getByRole('group', { name: 'Training' });
    expect(group.textContent).toContain('cancelling');
    expect(group.textContent).toContain('16 s left');
    // A training counts optimiser steps, and says so (the rate is in images/s).
    expect(group.textContent).toContain('10 / 42 steps');
  });

  it('says only "cancelled" once cancelled: no stale phase, no time left', () => {
    render(ProgressBar, { props: { job: job({ state: 'cancelled' }), label: 'Training' } });
    const group = screen.getByRole('group', { name: 'Training' });
    expect(group.textContent).toContain('cancelled');
    expect(group.textContent).not.toContain('cancelling');
    expect(group.textContent).not.toMatch(/left/);
    expect(group.textContent).toContain('took 5 s');
  });
});
