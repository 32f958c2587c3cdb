# duplistatus server image (the default target, last stage). better-sqlite3 compiles from source when no prebuilt
# binary can be fetched, so the build stage carries the toolchain; the runtime stage does not.
#
# The Grafana data-source plugin is built by its own stages, only when asked for, e.g. without Node on the host:
#   docker build --target plugin-dist --output grafana-plugin/dist .
# docker-compose.yml mounts grafana-plugin/dist into the Grafana container.
FROM node:20-bookworm-slim AS plugin-build
WORKDIR /plugin
COPY grafana-plugin/package.json grafana-plugin/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY grafana-plugin/ ./
RUN npm run build

FROM scratch AS plugin-dist
COPY --from=plugin-build /plugin/dist/ /

# The root postinstall skips the plugin here: only the root manifests are copied before `npm ci`. The dev
# dependencies (typescript) compile the server to dist/, then they are pruned. The TypeScript sources stay in the
# image for the command-line tools (`npm run admin:reset`, imports, migration), which run through tsx.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
COPY mqtt-bridge ./mqtt-bridge
RUN npm run build:server && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production PORT=9666 DATA_DIR=/app/data
COPY --from=build /app /app
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 9666
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9666/api/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# What `npm start` runs (package.json), without npm in between: node gets the signals (docker stop → SIGTERM).
# --max-old-space-size=512 keeps V8's old generation from growing up to 4× its live size between full collections
# (README, Benchmarks: peak RSS).
CMD ["node", "--max-old-space-size=512", "dist/server/src/main.js"]
