// Bearer API keys for /api/v1. Registered inside the API scope only.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../lib/errors.js';
import { findApiKey } from './repository.js';
import { hashToken } from '../lib/tokens.js';

async function apiAuth(app: FastifyInstance) {
  // Per key (by its hash), checked before the key is looked up, so a flood of bad keys is bounded too.
  app.addHook(
    'onRequest',
    app.rateLimit({
      max: app.services.config.API_RATE_LIMIT,
      timeWindow: '1 minute',
      keyGenerator: (req) => hashToken(req.headers.authorization ?? req.ip).slice(0, 32),
    }),
  );
  app.addHook('onRequest', async (req) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const key = match ? await findApiKey(app.services.db, match[1]) : undefined;
    if (!key) {
      throw new AppError(401, 'unauthorized', 'Send a valid API key as "Authorization: Bearer <key>".');
    }
    req.session = { userId: null, vendorId: key.vendor_id, vendorName: key.vendor_name, userName: key.name, via: 'api_key' };
  });
}

export default fp(apiAuth, { name: 'api-auth' });
