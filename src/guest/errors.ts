/** Failures of the PKU guest itself (as opposed to the command it runs). */
import { KeycellError } from '../errors.js';

export class GuestError extends KeycellError {
  declare readonly code: 'GUEST_FAILED';

  constructor(message: string) {
    super('GUEST_FAILED', message);
  }
}
