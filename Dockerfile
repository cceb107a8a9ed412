# Posture Portal — production image.
FROM node:20-bookworm-slim

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY server/ ./server/
COPY templates/ ./templates/
COPY migrations/ ./migrations/
COPY scripts/ ./scripts/

# DATA_DIR (./data) holds the embedded PGlite database and the mail outbox
# when DATABASE_URL / SMTP_URL are not set; it must be writable by `node`.
RUN mkdir -p /app/data && chown node:node /app/data

USER node

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The app runs its migrations on start.
CMD ["npm", "start"]
