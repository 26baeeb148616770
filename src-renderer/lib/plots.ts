/**
 * Observable Plot options for Evaluate's charts, built from plain data so they can be tested
 * without a DOM. Colours are Okabe–Ito and read on both the light and the dark theme (no
 * blend modes: "multiply" turns the bars black on a dark background).
 */
import * as Plot from '@observablehq/plot';
import type { DatasetMetrics } from '../../src-main/contract.js';
import { okabeIto } from './palette.js';
import type { Bin, RiskPoint } from './stats.js';

export function reliabilityPlot(reliability: DatasetMetrics['reliability']): Plot.PlotOptions {
  return {
    height: 260,
    width: 320,
    x: { domain: [0, 1], label: 'confidence' },
    y: { domain: [0, 1], label: 'accuracy', grid: true },
    marks: [
      Plot.rectY(
        reliability.filter((b) => b.count > 0),
        { x1: 'lower', x2: 'upper', y: 'accuracy', fill: okabeIto.blue, inset: 1, tip: true },
      ),
      Plot.line(
        [
          [0, 0],
          [1, 1],
        ],
        { stroke: okabeIto.vermillion, strokeDasharray: '4,3' },
      ),
    ],
  };
}

/**
 * Sets drawn in histograms: the evaluated images sky blue, OOD vermillion (both visible on light and
 * dark). "These images", not "validation": Evaluate measures the held-out validation and test images,
 * or all of another folder.
 */
export const histogramSets = { 'these images': okabeIto.skyBlue, 'OOD folder': okabeIto.vermillion } as const;

export function histogramPlot(
  h: { in: readonly Bin[]; ood: readonly Bin[] },
  xLabel: string,
): Plot.PlotOptions {
  const rows = [
    ...h.in.map((b) => ({ ...b, set: 'these images' })),
    ...h.ood.map((b) => ({ ...b, set: 'OOD folder' })),
  ];
  const sets = Object.entries(histogramSets).filter(([name]) => rows.some((r) => r.set === name));
  return {
    height: 220,
    width: 360,
    x: { label: `${xLabel} (nats)` },
    y: { label: 'share of images', grid: true },
    // Only the sets drawn: without an OOD folder the legend has no "OOD folder" entry.
    color: {
      domain: sets.map(([name]) => name),
      range: sets.map(([, color]) => color),
      legend: true,
    },
    // y1/y2, not y: overlaid, not stacked (a stack would add the two sets' shares together).
    marks: [
      Plot.rectY(rows, {
        x1: 'x0',
        x2: 'x1',
        y1: 0,
        y2: 'density',
        fill: 'set',
        fillOpacity: 0.6,
        stroke: 'set',
        strokeOpacity: 0.9,
      }),
      Plot.ruleY([0]),
    ],
  };
}

export function riskPlot(
  risk: readonly RiskPoint[],
  point: { accepted: number; coverage: number; accuracy: number },
): Plot.PlotOptions {
  return {
    height: 240,
    width: 360,
    x: { domain: [0, 1], label: 'coverage (share of images accepted)' },
    y: { label: 'accuracy of accepted', grid: true },
    marks: [
      Plot.line(risk, { x: 'coverage', y: 'accuracy', stroke: okabeIto.blue, strokeWidth: 2 }),
      Plot.dot(
        [point].filter((p) => p.accepted > 0),
        { x: 'coverage', y: 'accuracy', r: 5, fill: okabeIto.vermillion },
      ),
    ],
  };
}
