/**
 * The app's settings: schema and defaults. Shared wire data (no logic) read by the contract, which
 * validates `settings.set`, and by the store, which persists them.
 */
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  theme: z.enum(['system', 'light', 'dark']),
  backend: z.enum(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']),
  /** Predictions with entropy above this fraction of log(classes) count as uncertain. */
  uncertainFraction: z.number().min(0).max(1),
  defaultFit: z.enum(['cover', 'contain']),
  /** Target in-distribution acceptance rate of the OOD threshold (0.95 = 95% TPR). */
  oodTpr: z.number().min(0.5).max(0.999),
});
export type Settings = z.infer<typeof settingsSchema>;
export const defaultSettings: Settings = {
  theme: 'system',
  backend: 'auto',
  uncertainFraction: 0.5,
  defaultFit: 'cover',
  oodTpr: 0.95,
};
