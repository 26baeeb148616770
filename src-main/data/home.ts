import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The app data folder (caches, datasets, models). `RANK1_HOME` overrides; otherwise
 * `%APPDATA%\Rank1 Studio` on Windows, `~/Library/Application Support/Rank1 Studio` on macOS and
 * `~/.rank1-studio` elsewhere. Created on demand.
 */
export function dataHome(): string {
  const env = process.env.RANK1_HOME?.trim();
  const dir = env ? path.resolve(env) : defaultHome();
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function defaultHome(): string {
  const home = os.homedir();
  if (process.platform === 'win32') {
    return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Rank1 Studio');
  }
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Rank1 Studio');
  return path.join(home, '.rank1-studio');
}
