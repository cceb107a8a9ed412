// Renders a page with what every page needs: the session, a CSRF token for
// its forms, and the status code.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TemplateData } from '../views.js';

export function sendPage(req: FastifyRequest, reply: FastifyReply, page: string, data: TemplateData, status = 200) {
  const csrfToken = req.session?.via === 'cookie' ? reply.generateCsrf() : undefined;
  const html = req.server.services.views.page(page, { ...data, session: req.session, csrfToken });
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
}

/** Post/redirect/get: a 303 so a reload never re-submits. */
export function seeOther(reply: FastifyReply, url: string) {
  return reply.code(303).header('location', url).send();
}
