# One image for every job: `.venv/bin/python production/<job>.py [OPTIONS]` (README: "Running on Docker or
# Kubernetes"). No secret and no data inside: settings come from the environment, state from volumes.
FROM python:3.11-slim-trixie

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# pg_dump/pg_restore for the backup job on PostgreSQL. pg_dump refuses a server newer than itself, so the major
# version is pinned: 17 dumps PostgreSQL 15, 16 and 17. curl for ALERT_COMMAND's webhooks and BACKUP_COPY_COMMAND's
# uploads (--aws-sigv4 speaks to S3-compatible storage).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-17=17.* curl=8.* \
 && rm -rf /var/lib/apt/lists/*

# supercronic, cron for containers (the compose scheduler): a release binary, version and checksum pinned.
ARG SUPERCRONIC_VERSION=v0.2.34
RUN arch="$(dpkg --print-architecture)" \
 && case "${arch}" in \
      amd64) sha1=e8631edc1775000d119b70fd40339a7238eece14 ;; \
      arm64) sha1=4ab6343b52bf9da592e8b4bb7ae6eb5a8e21b71e ;; \
      *) echo "no supercronic checksum for ${arch}" >&2; exit 1 ;; \
    esac \
 && python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
      "https://github.com/aptible/supercronic/releases/download/${SUPERCRONIC_VERSION}/supercronic-linux-${arch}" \
      /usr/local/bin/supercronic \
 && echo "${sha1}  /usr/local/bin/supercronic" | sha1sum -c - \
 && chmod 0755 /usr/local/bin/supercronic

RUN groupadd --system --gid 10001 football \
 && useradd --system --uid 10001 --gid football --no-create-home --home-dir /var/lib/football football

# State lives under /var/lib/football (volumes in compose, one PersistentVolumeClaim in Kubernetes); the code
# stays read-only and owned by root. DATABASE_URL here is only the SQLite fallback: compose and the manifests
# set the PostgreSQL URL from the environment. BLAS/OpenMP threads: one per job unless the orchestrator sets
# them from the container's CPU limit (compose.yaml, deploy/kubernetes/base).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////var/lib/football/predictions.db \
    MODEL_DIR=/var/lib/football/models \
    BACKUP_DIR=/var/lib/football/backups \
    LOG_DIR=/var/lib/football/logs \
    LOCK_DIR=/var/lib/football/locks \
    CACHE_DIR=/var/lib/football/cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    CPU_THREADS=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1
RUN mkdir -p /var/lib/football/models /var/lib/football/backups /var/lib/football/logs \
             /var/lib/football/locks /var/lib/football/cache \
 && chown -R football:football /var/lib/football

# The same venv and install step as the README's (and CI's), at the path crontab.example names, so its lines run
# unchanged. Requirements before the code, for layer caching; requirements.txt ends in `-e .`, which needs the
# project's metadata and its package directory, hence pyproject.toml and the (empty) pipeline/__init__.py here.
WORKDIR /opt/football
COPY requirements.txt pyproject.toml ./
COPY pipeline/__init__.py pipeline/
RUN python3 -m venv .venv && .venv/bin/pip install -r requirements.txt

COPY . .
# Compiled once here: the code directory is read-only at run time and every job pays start-up on each run.
RUN .venv/bin/python -m compileall -q pipeline production

USER 10001:10001
CMD [".venv/bin/python", "production/container.py"]
