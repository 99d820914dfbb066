# syntax=docker/dockerfile:1
# secrets-manager-operator: Node 24, production dependencies only, non-root, no shell at run time.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Bundle src/ into dist/main.js (rolldown.config.ts).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are skipped: the image already has Node 24, the `node` dev dependency is not needed.
RUN npm ci --no-fund --no-audit --ignore-scripts
COPY tsconfig.json rolldown.config.ts ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-fund --no-audit --ignore-scripts

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="secrets-manager-operator" \
      org.opencontainers.image.description="Syncs IBM Cloud Secrets Manager secrets into Kubernetes Secrets and leases dynamic IAM credentials" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/secrets-manager-operator/secrets-manager-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
ENV NODE_ENV=production
# glibc malloc, tuned as `npm start` does (README, "Memory"). At most two arenas: each thread that
# allocates (V8's compiler and GC helpers, libuv's pool) otherwise gets an arena of its own, which
# keeps what it freed (about 15 MiB of a first sync's peak at 10,000 resources). Fixed mmap and
# trim thresholds: by default glibc raises both each time it frees a large block, after which
# large blocks come from the heap and what they leave is not returned (3-5 MiB at that peak).
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=65536
ENV MALLOC_TRIM_THRESHOLD_=131072
# 65532 is distroless's nonroot user; the root filesystem can be mounted read-only.
USER 65532:65532
EXPOSE 8080 8081
# Health is checked by Kubernetes probes on :8081 (/healthz, /readyz), not a Docker HEALTHCHECK.
# The Node flags are those of `npm start` (README, "Memory"): V8's mode that favours memory over
# speed (1 MiB semi-spaces; measured, 170-179 MiB instead of 184-205 MiB at the peak of a first
# sync of 10,000 resources, and an RSS that falls back to 147-154 MiB after it instead of staying
# at its peak, for about a sixth more CPU during the burst), an old generation that grows by 30%
# before the next full collection (V8 otherwise lets it grow up to 4x: ~120 MiB more peak RSS at
# a first sync of 10,000 than growing by half, and 30% took 11-16 MiB more off it for about 8%
# more CPU), and no Maglev, V8's middle compiler tier, whose compilations left about 10 MiB
# more native memory in the process (at the peak of that first sync and after it; hot code still
# reaches TurboFan, for no difference in CPU measured). On the command line, since V8 refuses the
# second in NODE_OPTIONS, and so that a NODE_OPTIONS set on the pod adds to them instead of
# replacing them.
ENTRYPOINT ["/nodejs/bin/node", "--optimize-for-size", "--heap-growing-percent=30", "--no-maglev", "dist/main.js"]
