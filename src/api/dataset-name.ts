/**
 * The rule of dataset names, shared by the stores that create datasets and the routes that
 * refuse a bad name before holding anything for it (beacons). Pure.
 */
import { FlagscopeError } from '../errors.js';

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Throws `invalid_input` unless `name` is a valid dataset name: 1–128
 * characters, letters, digits, `.`, `_` and `-`, starting with a letter or digit.
 */
export function validateDatasetName(name: string): void {
  if (typeof name !== 'string' || !DATASET_NAME.test(name)) {
    throw new FlagscopeError(
      'invalid_input',
      `invalid dataset name ${JSON.stringify(String(name)).slice(0, 140)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'rename the dataset, e.g. `my-service.prod`',
    );
  }
}
