# Lean Capture in a container.
#   docker build -t lean-capture .                                 # embedded ClickHouse (chdb): one container
#   docker build -t lean-capture:server --target server .          # without chdb (~550 MB smaller): for Compose with a ClickHouse server
# Runtime: Debian trixie (glibc 2.41), so the upstream uWebSockets.js build loads (it needs
# glibc >= 2.38); the server logs which build it loaded. Data lives in the /data volume.

# ---- dependencies, built where compilers are (better-sqlite3 may compile from source) --------
FROM node:24-trixie AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: chdb lists optional builds for other platforms that a registry mirror
# may not serve, and then npm ci rejects the lock file (see README); the lock file still pins
# every version installed. Install scripts run only where package.json's allowScripts says.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM deps AS deps-server
RUN rm -rf node_modules/chdb node_modules/@chdb

# ---- what both images share -------------------------------------------------------------------
FROM node:24-trixie-slim AS base
# tini as PID 1 forwards SIGTERM and reaps children, so `docker stop` is a graceful shutdown.
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY admin-pwa ./admin-pwa
COPY scripts ./scripts
# The node user (uid 1000) owns the data volume; nothing in /app is writable by it.
RUN mkdir -p /data && chown node:node /data
# MALLOC_ARENA_MAX=2: glibc's allocator keeps fewer arenas (~15 MB less at peak, same throughput; docs/performance.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
# --single-threaded-gc: V8 collects on the event loop's thread, never waiting on helper threads that
# share the core with ClickHouse (longest stall at half peak 17–22 → 12–15 ms); --max-semi-space-size=8:
# a young generation half V8's default, ~15 MB less resident when idle.
CMD ["node", "--single-threaded-gc", "--max-semi-space-size=8", "scripts/start.mjs"]

# ---- for a ClickHouse server (CLICKHOUSE_URL), as in docker-compose.yml ------------------------
FROM base AS server
COPY --from=deps-server /app/node_modules ./node_modules
USER node

# ---- the default: the single-container image with the embedded engine -------------------------
FROM base AS embedded
COPY --from=deps /app/node_modules ./node_modules
USER node
