/**
 * Dawn's adapter discovery (backends/webgpu/discovery.ts) with the real `webgpu` package. With
 * Mesa's Vulkan installed (libvulkan1 + mesa-vulkan-drivers, as `.ci/run` does), enumerating
 * adapters makes Dawn and Mesa write `XDG_RUNTIME_DIR is invalid…` and `Vulkan
 * shaderUniform*ArrayDynamicIndexing required` to native stderr. Those lines must reach the user
 * only with `--verbose` (RANK1_VERBOSE=1). Native writes bypass process.stderr, so each case runs
 * `initBackend('auto')` in a child Node (source through tsx) and reads the child's real stderr.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { probeAdapters, vulkanMissing } from '../../../src-main/engine/backends/webgpu/discovery.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const inCI = process.env.CI === 'true';
const noVulkan = vulkanMissing();
if (noVulkan && !inCI)
  console.log(
    '[webgpu discovery] SKIPPED: libvulkan.so.1 missing (apt-get install libvulkan1 mesa-vulkan-drivers).',
  );

const program = `
const { initBackend } = await import('./src-main/engine/backends/index.ts');
const info = await initBackend('auto');
process.stdout.write(JSON.stringify(info.tried.find((t) => t.name === 'webgpu')));
`;

async function autoInChild(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  const { [`RANK1_WEBGPU_ALLOW_SOFTWARE`]: _drop, RANK1_VERBOSE: _v, ...base } = process.env;
  return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    cwd: root,
    env: { ...base, ...env },
    timeout: 60_000,
  });
}

// In CI the Vulkan loader is installed by .ci/run; missing there is a failure, not a skip.
describe.skipIf(noVulkan && !inCI)('Dawn adapter discovery with Mesa Vulkan installed', () => {
  it('libvulkan.so.1 is installed', () => {
    expect(noVulkan, 'libvulkan.so.1 not found: .ci/run installs libvulkan1').toBe(false);
  });

  it("initBackend('auto') prints none of Dawn's or Mesa's messages without --verbose", async () => {
    const { stdout, stderr } = await autoInChild({});
    expect(JSON.parse(stdout)).toMatchObject({ name: 'webgpu' });
    expect(stderr).not.toMatch(/XDG_RUNTIME_DIR|Vulkan|Dawn|Warning:/i);
  }, 60_000);

  it('with RANK1_VERBOSE=1 (rank1 --verbose) the captured messages are shown, marked [dawn]', async () => {
    const quiet = await probeAdapters(['native']);
    const { stderr } = await autoInChild({ RANK1_VERBOSE: '1' });
    if (quiet.messages.trim() === '') {
      // A driver stack that prints nothing: then verbose has nothing to show either.
      expect(stderr).not.toMatch(/\[dawn\]/);
    } else {
      const lines = stderr.split('\n').filter((l) => l.startsWith('[dawn] '));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('\n')).toContain(quiet.messages.trim().split('\n')[0].trim());
    }
  }, 60_000);
});
