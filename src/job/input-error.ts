/**
 * Input a job cannot be made of. `code` is the API's stable error code and
 * `status` the HTTP status it answers with (the HTTP layer maps it; job/
 * itself knows nothing of HTTP).
 */
export class JobInputError extends Error {
  readonly code: string;
  readonly status: 400 | 413;

  constructor(status: 400 | 413, code: string, message: string) {
    super(message);
    this.name = 'JobInputError';
    this.status = status;
    this.code = code;
  }
}
