/** `../shared` beside the checkout: the data and models made by others (CI lays it there too). */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared');
