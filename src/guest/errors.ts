/** Failures of the PKU guest itself (as opposed to the command it runs). */
export class GuestError extends Error {
  override name = 'GuestError';
}
