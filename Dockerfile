# syntax=docker/dockerfile:1
# One image, three entry points (all from the project's wheel, installed in /opt/gitops-sla):
#   reconciler   (default)        gitops-sla reconcile --repo ... --watch       (deploy/base/deployment.yaml)
#   profiler Job                  python -m profiler --config ... --output ...
#   planner                       python -m planner --once|... (the project's planner, `planner.image`)
# Build: docker build -t gitops-sla:0.1.0 .      (README.md, "Running it in a cluster")
#
# The base image is pinned to an exact version. To pin its digest as well, read it where you pull from and append
# it (a digest must come from the registry, never be typed in):
#   docker buildx imagetools inspect python:3.11.11-slim-bookworm --format '{{json .Manifest.Digest}}'
#   docker build --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<that digest> -t gitops-sla:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: the project's wheel and the wheels of everything it needs ------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY LICENSES ./LICENSES
COPY repo-template ./repo-template
COPY gitops_sla ./gitops_sla
COPY profiler ./profiler
COPY planner ./planner
RUN pip wheel --wheel-dir /wheels .

# --- runtime: a virtualenv from those wheels only, a non-root user, nothing else --------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/gitops-sla/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/gitops-sla \
    && /opt/gitops-sla/bin/pip install --no-index --find-links /wheels gitops-sla \
    && groupadd --gid 10001 gitops-sla \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin gitops-sla
COPY LICENSES /usr/share/licenses/gitops-sla/
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["gitops-sla"]
CMD ["--help"]
