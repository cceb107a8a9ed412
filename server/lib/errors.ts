// Lower layers throw AppError with an HTTP status and a stable code; the one
// error handler in app.ts turns it into an HTML page or JSON.
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what = 'That page') =>
  new AppError(404, 'not_found', `${what} does not exist, or you do not have access to it.`);

export const badRequest = (message: string, details?: unknown) =>
  new AppError(400, 'invalid_input', message, details);

export const conflict = (code: string, message: string) => new AppError(409, code, message);
