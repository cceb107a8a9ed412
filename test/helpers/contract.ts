// Every /api/v1 response a test receives is checked against the OpenAPI
// document the app itself serves: its status must be declared for the
// operation, its content type too, and a JSON body must match the declared
// schema (JSON Schema 2020-12, as OpenAPI 3.1 uses). A response that does not
// throws in the app's onSend hook, so the test sees a 500 and fails; the
// problem is also printed and kept in `contractProblems`.
import type { FastifyInstance } from 'fastify';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ApiResponseSeen } from '../../server/app.js';

type Doc = {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
  components?: object;
};

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/** Problems seen in this process, for a test to assert on. */
export const contractProblems: string[] = [];
/** How many responses were checked in this process. */
export const contractStats = { checked: 0, bodies: 0 };

/** '/api/v1/deals/:id' → '/api/v1/deals/{id}' */
export const openapiPath = (route: string) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export class ContractChecker {
  private doc: Doc | undefined;
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly app: () => FastifyInstance) {
    addFormats(this.ajv);
  }

  private document(): Doc {
    this.doc ??= this.app().openapiDocument() as Doc;
    return this.doc;
  }

  /** The problem with a response, or undefined when it matches the document. */
  problem(res: ApiResponseSeen): string | undefined {
    if (res.route === '/api/v1/openapi.json') return undefined;
    const where = `${res.method} ${res.route} → ${res.status}`;
    const operation = this.document().paths[openapiPath(res.route)]?.[res.method.toLowerCase()];
    // A request no route matched (a 404 for an unknown address) has no operation; it must still be our error shape.
    const responses = operation?.responses ?? { '4XX': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } };
    const declared = responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`] ?? responses[`${String(res.status)[0]}xx`] ?? responses.default;
    if (!declared) return `${where}: status not declared`;
    if (res.status === 204 || !declared.content) return res.body ? `${where}: a body where none is declared` : undefined;
    const type = res.contentType.split(';')[0].trim().toLowerCase();
    const media = declared.content[type];
    if (!media) return `${where}: content type ${type || '(none)'} not declared (${Object.keys(declared.content).join(', ')})`;
    if (type !== 'application/json' || res.body === undefined) return undefined;
    const key = `${res.method} ${res.route} ${res.status} ${type}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...(media.schema ?? {}), components: this.document().components });
      this.compiled.set(key, validate);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return `${where}: body is not JSON`;
    }
    contractStats.bodies++;
    if (validate(body)) return undefined;
    return `${where}: ${this.ajv.errorsText(validate.errors)}`;
  }

  /** For AppDeps.checkApiResponse: counts, keeps and throws on a mismatch. */
  check = (res: ApiResponseSeen) => {
    contractStats.checked++;
    const problem = this.problem(res);
    if (!problem) return;
    contractProblems.push(problem);
    console.error(`API response does not match the OpenAPI document: ${problem}`);
    throw new Error(`API response does not match the OpenAPI document: ${problem}`);
  };
}
