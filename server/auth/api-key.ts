// Bearer API keys for /api/v1. Registered inside the API scope only.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../lib/errors.js';
import { findApiKey } from './repository.js';

async function apiAuth(app: FastifyInstance) {
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
