/**
 * What an import tells its caller: progress events while it runs, and a report in which every
 * file the scan saw is either imported or listed with a reason (`seen = images + skipped.length`).
 * The service types its data port from these.
 */
import type { ImportRefusal, ImportReport } from '../common/data.js';
export type {
  DuplicateGroup,
  ImportProgress,
  ImportRefusal,
  ImportReport,
  SkipReason,
  SkippedFile,
} from '../common/data.js';

/**
 * A folder that cannot become a training set, said in one line the service and CLI show as is.
 * `report` is there when the refusal came after decoding (every image unreadable).
 */
export class ImportRefusedError extends Error {
  override name = 'ImportRefusedError';
  constructor(
    readonly code: ImportRefusal,
    readonly root: string,
    message: string,
    readonly report?: ImportReport,
  ) {
    super(message);
  }
}
