# Posture Portal — production image: the compiled JavaScript, run by node.

# 1. Compile TypeScript to dist/ (TypeScript is a dev dependency, so it stays in this stage).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts yet: the sources they use are copied below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY server/ ./server/
COPY migrations/ ./migrations/
COPY scripts/ ./scripts/
RUN npx tsc -p tsconfig.build.json

# 2. The image: production dependencies, dist/ and the templates read at run time.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist/ ./dist/
COPY templates/ ./templates/

# The prepared embedded database (node_modules/.cache) that a new DATA_DIR starts as a copy of,
# used when DATABASE_URL is not set. DATA_DIR (./data) also holds the mail outbox when SMTP_URL
# is not set; it must be writable by `node`.
RUN node dist/scripts/prepare-pglite.js && mkdir -p /app/data && chown node:node /app/data

USER node

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The app runs its migrations on start (`node dist/scripts/migrate.js` runs them alone).
CMD ["node", "dist/server/main.js"]
