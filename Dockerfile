# syntax=docker/dockerfile:1
# One image for every SPMS process; the compose file picks the command.

# ---- build: install everything, generate the Prisma client, compile TypeScript
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json tsconfig.json prisma.config.ts biome.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY packages ./packages
COPY apps ./apps
RUN npm ci --no-audit --no-fund && npx turbo run build --output-logs=errors-only

# ---- runtime: production dependencies + compiled output only
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production TURBO_TELEMETRY_DISABLED=1
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/packages ./packages
COPY --from=build /app/apps ./apps
COPY --from=build /app/prisma ./prisma
# Install scripts are not needed at run time (the Prisma client is already generated and
# compiled into packages/db/dist).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find packages apps -name src -type d -prune -exec rm -rf {} + \
 && useradd --system --uid 10001 spms
USER spms
EXPOSE 1883 8883 8083 8080 9091
CMD ["node", "apps/api/dist/main.js"]
