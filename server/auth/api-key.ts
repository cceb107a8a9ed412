// Bearer API keys for /api/v1. Registered inside the API scope only.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../lib/errors.js';
import { hashToken } from '../lib/tokens.js';
import { authenticateApiKey } from './service.js';
import { enforceRole } from './session.js';

async function apiAuth(app: FastifyInstance) {
  const { db, clock, config, failures } = app.services;
  // Per key (by its hash), checked before the key is looked up, so a flood of bad keys is bounded too.
  app.addHook(
    'onRequest',
    app.rateLimit({
      max: config.API_RATE_LIMIT,
      timeWindow: '1 minute',
      keyGenerator: (req) => hashToken(req.headers.authorization ?? req.ip).slice(0, 32),
    }),
  );
  app.addHook('onRequest', async (req, reply) => {
    // Failed authentications per client address, before the lookup: a fresh bad key gets no fresh budget.
    failures.check('api_key', req, reply);
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const key = match ? await authenticateApiKey(db, clock, match[1]) : undefined;
    if (!key) {
      failures.fail('api_key', req);
      throw new DomainError('unauthorized', 'Send a valid API key as "Authorization: Bearer <key>".');
    }
    req.session = {
      userId: null,
      vendorId: key.vendorId,
      vendorName: key.vendorName,
      userName: key.name,
      role: key.role,
      via: 'api_key',
      keyOwnerId: key.ownerId,
      apiKeyId: key.id,
    };
    // A request to no route is left to the not-found answer.
    if (req.routeOptions.url) await enforceRole(req);
  });
}

export default fp(apiAuth, { name: 'api-auth' });
