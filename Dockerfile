# syntax=docker/dockerfile:1
# descope-gitops controller image.
#
#   docker build -t descope-gitops:0.1.0 --build-arg SOURCE_URL=https://github.com/<org>/descope-gitops .
#   docker run --rm --read-only --tmpfs /tmp -v descope-gitops-state:/var/lib/descope-gitops -p 9464:9464 \
#     -v "$PWD/config.toml:/etc/descope-gitops/config.toml:ro" -e DESCOPE_GITOPS_CONFIG=/etc/descope-gitops/config.toml \
#     -e DESCOPE_PROJECT_ID -e DESCOPE_MANAGEMENT_KEY descope-gitops:0.1.0          # the daemon (CMD run)
#   docker run --rm -v "$PWD:/work:ro" descope-gitops:0.1.0 validate /work/tenants.yaml   # any other command
#
# The root filesystem may be read-only: the process writes only under /var/lib/descope-gitops (the
# store: checkpoints, backups, the git cache and the lock; mount a volume there) and /tmp (HOME and
# temporary files). SSH host keys are mounted with the credentials ([source] known_hosts_file), since
# whatever ssh learns under /tmp is gone at the next start. Kubernetes manifests: deploy/kubernetes/.
# The base image is pinned to an exact patch release; bump it (and rebuild) for Python and Debian fixes.

# ---- build: a wheel of the package and of every dependency, so the final stage installs offline
FROM python:3.11.17-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# only what the wheel needs (see .dockerignore): the package metadata, the sources and the tested
# versions of every dependency (deploy/constraints.txt, the lock CI installs with too)
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt ./constraints.txt
COPY controller ./controller
RUN pip wheel --wheel-dir /wheels --constraint constraints.txt .

# ---- final: the runtime dependencies and the wheel, no compilers, no test extras
FROM python:3.11.17-slim-bookworm

ARG VERSION=0.1.0
ARG SOURCE_URL=https://github.com/OWNER/descope-gitops

LABEL org.opencontainers.image.title="descope-gitops" \
      org.opencontainers.image.description="GitOps controller that keeps a Descope project's tenants equal to a tenants.yaml kept in Git" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# git and ssh for the Git source; procps gives GitPython `pgrep`/`ps`, which it needs to kill a timed-out
# git together with its children (git-remote-https, ssh) instead of leaving them running
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client procps \
    && rm -rf /var/lib/apt/lists/*

# uid/gid 10001, as the Kubernetes manifests' runAsUser/fsGroup; home is /tmp (writable, not persisted)
RUN groupadd --system --gid 10001 descope-gitops \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin descope-gitops \
    && mkdir -p /var/lib/descope-gitops \
    && chown 10001:10001 /var/lib/descope-gitops \
    && chmod 0750 /var/lib/descope-gitops

# installed from the wheels of the build stage only (bind-mounted, so they do not stay in a layer);
# bytecode is compiled here, at build time, because the root filesystem is read-only at run time
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    pip install --no-index --find-links=/wheels descope-gitops==${VERSION} \
    && descope-gitops --version

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    DESCOPE_GITOPS_STORE__DIR=/var/lib/descope-gitops

USER 10001:10001
WORKDIR /var/lib/descope-gitops

# /metrics, /healthz, /readyz and POST /hooks/git ([http] listen, default 0.0.0.0:9464)
EXPOSE 9464

# the process is alive (not: Descope is reachable); the port follows DESCOPE_GITOPS_HTTP__LISTEN when set
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('DESCOPE_GITOPS_HTTP__LISTEN', ':9464').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["descope-gitops"]
CMD ["run"]
