// The contract of /api/v1: every route declares zod schemas for its params,
// query, body and each response (fastify-type-provider-zod), and the OpenAPI
// document is generated from them (@fastify/swagger, see server/api/openapi.ts).
// Requests are parsed by the declared schema and a failure is our usual 400
// naming each bad field.
import type { FastifySchemaCompiler } from 'fastify';
import { z, type ZodType } from 'zod';
import { invalidInput, zodDetails } from './validate.js';

/** What a failure names in its message, by the part of the request that was wrong. */
const PART: Record<string, string> = { body: 'request body', querystring: 'query', params: 'address', headers: 'request headers' };

/** Parses a request part with its route's zod schema; a failure is the documented 400 with every bad field in `details`. */
export const apiValidatorCompiler: FastifySchemaCompiler<ZodType> =
  ({ schema, httpPart }) =>
  (data: unknown) => {
    const r = schema.safeParse(data ?? {});
    return r.success ? { value: r.data } : { error: invalidInput(PART[httpPart ?? ''] ?? 'request', zodDetails(r.error)) };
  };

/**
 * Responses go out through their schema (the library's serializer, zod's encode): a key the schema does
 * not declare is dropped, and a body that does not match it is a 500, logged, never a silent change.
 */
export { serializerCompiler as apiSerializerCompiler } from 'fastify-type-provider-zod';

// --- Shared pieces of the contract ---------------------------------------------------------------

/** A moment: a Date in the handler, an ISO 8601 date-time string in UTC on the wire and in the document. */
export const timestamp = z.date().describe('A moment, ISO 8601 in UTC');
export const date = z.iso.date().describe('A calendar date, YYYY-MM-DD');

export const ApiError = z
  .object({
    error: z.object({
      code: z.string().describe('A stable code: invalid_input, unauthorized, not_found, rate_limited, …'),
      message: z.string().describe('What went wrong, for a person'),
      details: z.unknown().optional().describe('For invalid_input: [ { field, message } ], one per bad field'),
    }),
  })
  .meta({ id: 'Error' });

/** The answer every route may give besides its own: one error shape for every status. */
export const ERROR_RESPONSES = { '4xx': ApiError, '5xx': ApiError } as const;

/** A response that is a file: CSV or NDJSON text, streamed. */
export const csvText = z.string().describe('RFC 4180 CSV, UTF-8, with a header row');
export const ndjsonText = z.string().describe('Newline-delimited JSON: one object per line');

/** A path parameter that names a row: any text (an unknown or malformed id is a 404, not a 400). */
export const idParam = (what: string) => z.string().describe(`The ${what}'s id`);
