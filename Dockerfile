# One multi-stage Dockerfile builds the image of every workspace: the build context is the repository root (it
# must hold the workspace manifests and the lockfile). compose/cdc.yml and compose/process.yml pass these:
#   --build-arg SERVICE=<workspace folder>   services/cdc, services/processor, services/loader, services/console,
#                                            services/analysis-tool or gcp-utils
#   --target service   a long-running service with ops HTTP on HTTP_PORT (/healthz /readyz /metrics), probed by
#                      HEALTHCHECK; needs --build-arg HTTP_PORT (cdc 8081, processor 8082, loader 8083, console 8084)
#   --target cli       a command-line tool or one-shot job (analysis-tool, gcp-utils): no server, HEALTHCHECK NONE
#   docker build --target service --build-arg SERVICE=services/cdc --build-arg HTTP_PORT=8081 -t cdc-pipeline/cdc .
#   docker build --target cli --build-arg SERVICE=gcp-utils -t cdc-pipeline/gcp-utils .
# No secret is baked in: configuration comes from the environment at run time (see .env.example).

# --- build: every workspace's dependencies (dev included) and every workspace compiled, with no build argument:
#     the same for all images, so it is built once and every further image takes it from the layer cache
#     (deploy.sh builds the images one after the other for that). Native addons are compiled here, once: the Kafka
#     client (librdkafka) is linked against Debian's shared libraries (CKJS_LINKING=dynamic), which the runtime
#     stage installs without the toolchain. Always from the npm package's source (npm_config_build_from_source),
#     never the prebuilt binary its install script would otherwise fetch from GitHub without a recorded checksum.
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The native build's Debian packages: the kafka-client group of the project's one list of prerequisites. They follow
# the pinned base image (bookworm); their point releases are security fixes, not pinned.
COPY scripts/lib/prerequisites.sh scripts/lib/
RUN source scripts/lib/prerequisites.sh && require_prerequisites kafka-client && rm -rf /var/lib/apt/lists/*
# nodedir: node-gyp builds against the headers the image's Node ships in /usr/local/include/node instead of
# downloading them from the Node.js website (not reachable from a registry-only network)
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false CKJS_LINKING=dynamic \
    npm_config_nodedir=/usr/local npm_config_build_from_source=true
# manifests first: the npm ci layer stays cached until a package.json or the lockfile changes
COPY package.json package-lock.json ./
COPY services/core/package.json services/core/
COPY services/cdc/package.json services/cdc/
COPY services/processor/package.json services/processor/
COPY services/loader/package.json services/loader/
COPY services/analysis-tool/package.json services/analysis-tool/
COPY services/console/package.json services/console/
COPY gcp-utils/package.json gcp-utils/
RUN npm ci --include-workspace-root --workspace services/core --workspace services/cdc --workspace services/processor \
      --workspace services/loader --workspace services/analysis-tool --workspace services/console --workspace gcp-utils \
  && test -f node_modules/@confluentinc/kafka-javascript/build/config.gypi
COPY tsconfig.base.json ./
COPY services/ services/
COPY gcp-utils/ gcp-utils/
# the console's page is bundled (esbuild, uPlot) into services/console/dist/public
RUN npx tsc -b services/cdc services/processor services/loader services/analysis-tool services/console gcp-utils \
 && node services/console/build-web.mjs \
 && find . -path ./node_modules -prune -o \( -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' -o -name '*.test.d.ts.map' -o -name '*.tsbuildinfo' \) -type f -print0 | xargs -0 rm -f

# --- deps: the production dependencies of every workspace (dev dependencies pruned), shared by all images ---------
FROM build AS deps
RUN npm prune --omit=dev && npm cache clean --force

# --- runtime: compiled code and production dependencies, shared by the two targets below ---------------------
FROM node:24.22.3-bookworm-slim AS runtime
ARG SERVICE
RUN [ -n "${SERVICE}" ] && [ "${SERVICE}" != services/core ] \
  || { echo "build with --build-arg SERVICE=<workspace folder>, e.g. services/cdc or gcp-utils" >&2; exit 1; }
# the shared libraries the Kafka client was linked against (build stage); versions follow the base image; tini;
# the system CAs a TLS broker's certificate is checked against when KAFKA_SSL_CA_LOCATION is unset (the slim base
# has none; Node carries its own, librdkafka reads OpenSSL's)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 zlib1g libzstd1 libcurl4 libsasl2-2 liblz4-1 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# SERVICE_MAIN is only read by the ENTRYPOINT (exec form cannot expand a build argument).
ENV NODE_ENV=production SERVICE_MAIN=${SERVICE}/dist/main.js
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/services/core/package.json services/core/
COPY --from=build /app/services/core/dist services/core/dist
# the analysis tool's code is a library too: the console's query box runs through it
COPY --from=build /app/services/analysis-tool/package.json services/analysis-tool/
COPY --from=build /app/services/analysis-tool/dist services/analysis-tool/dist
COPY --from=build /app/${SERVICE}/package.json ${SERVICE}/
COPY --from=build /app/${SERVICE}/dist ${SERVICE}/dist
# the workspace's Node flags and C library settings: "nodeOptions" and "processEnvironment" of its package.json,
# where the local stack and the benches read them too
RUN node -p "require('./${SERVICE}/package.json').nodeOptions ?? ''" > node-options \
 && node -e "for (const [k, v] of Object.entries(require('./${SERVICE}/package.json').processEnvironment ?? {})) console.log(k + '=' + v)" > node-environment
# node ${SERVICE}/dist/main.js [arguments], working directory /app. tini is PID 1 and passes the signals on: as
# PID 1, node could not kill itself (the kernel drops a signal to a namespace's init that has no handler for it),
# and a service whose Kafka client is stuck must (Shutdown.abort: process.exit would wait for the stuck thread).
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "NODE_OPTIONS=\"$(cat /app/node-options)\"; export NODE_OPTIONS; exec env $(cat /app/node-environment) node \"$SERVICE_MAIN\" \"$@\"", "node"]

# --- cli: analysis-tool, gcp-utils -----------------------------------------------------------------------------
# analysis-tool: docker run -it --rm -e GCP_PROJECT=... -e BIGQUERY_ENDPOINT=... cdc-pipeline/analysis-tool
#                (SQL prompt), or ... cdc-pipeline/analysis-tool --query 'SELECT ...' [--json] (one query)
# gcp-utils: one-shot, idempotent Google Cloud setup (bucket, dataset, tables); exit code 0 when all exists
FROM runtime AS cli
# the image's unprivileged "node" user, numeric so that runAsNonRoot-style checks can verify it
USER 1000:1000
# no server, nothing to probe: the result of a run is its exit code
HEALTHCHECK NONE

# --- service: cdc, processor, loader, console (the default target) --------------------------------------------
FROM runtime AS service
ARG HTTP_PORT
# the shared Parquet volume (processor writes, loader reads) is mounted at /data/parquet; with a bucket output
# (compose/process.bucket.yml) the processor's write buffer at /data/buffer and the loader's working directory at
# /data/work instead. Each created owned by the runtime user so that a fresh named volume inherits it (a mount
# point missing from the image would be made owned by root, unwritable for the services)
RUN [ -n "${HTTP_PORT}" ] || { echo "the service target needs --build-arg HTTP_PORT" >&2; exit 1; } \
 && mkdir -p /data/parquet /data/buffer /data/work && chown 1000:1000 /data/parquet /data/buffer /data/work
# inside the container every interface: compose publishes the port on the host's OPS_BIND_ADDRESS only
ENV HTTP_PORT=${HTTP_PORT} HTTP_BIND_ADDRESS=0.0.0.0 PROCESSOR_OUTPUT_DIR=/data/parquet LOADER_INPUT_DIR=/data/parquet
# the image's unprivileged "node" user, numeric so that runAsNonRoot-style checks can verify it
USER 1000:1000
EXPOSE ${HTTP_PORT}
# liveness: the process answers on its ops port (compose checks /readyz on top of this)
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.HTTP_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
