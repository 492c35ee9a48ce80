# FinCore Payment Service (the API: `fincore api`). Built by `cdk deploy` from this directory;
# locally: docker build -t fincore-api . && docker run --init -p 3000:3000 -e ... fincore-api
#
# Node.js 22 (the current LTS the CI suite also runs on, and the worker's Lambda runtime), so
# the API and the worker run the same code on the same major version.

# --- build: install everything, compile src/ and psp-simulator/ to dist/ (tsc: the type check is
# part of it; the SQL migrations are copied beside the compiled modules), then drop the PSP
# simulator (a development tool: the image runs `fincore api`) and the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
COPY psp-simulator ./psp-simulator
COPY dashboard ./dashboard
RUN npm run build && npx tsc --noEmit -p dashboard && rm -rf dist/psp-simulator
# The operator dashboard is bundled here (Vite is a dev dependency) and served from dashboard/dist.
RUN npm run build:dashboard
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime: production dependencies and the compiled code, nothing else. Plain Node: no
# TypeScript loader at run time (faster start, less memory: bench/README.md "Start-up").
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root and only readable by the service user: the running process cannot change its code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dashboard/dist ./dashboard/dist
USER node
EXPOSE 3000
# node's own fetch: the slim image has no curl. PORT is read so an override does not break it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; the CLI drains requests and the outbox
# relay, then closes the pool. (ECS adds an init process; with plain docker use --init.)
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "api"]
