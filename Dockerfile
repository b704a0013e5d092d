# okr-service: non-root, configured by OKR_* (and OTEL_*) environment variables.
# Point it at a PostgreSQL with OKR_DATABASE_URL: the image never starts a database itself.
#
# Layers are ordered for the build cache: the dependencies are installed from the list
# pyproject.toml gives, so a change to the code (or to pyproject.toml's other tables)
# rebuilds only the last, small layer (seconds), never the dependencies. compose.yaml runs
# it with its migration, replicas and a webhook worker.

# The Python base of every stage: pin a digest, or name a mirror's copy, with
# `--build-arg PYTHON_IMAGE=...` (any Debian-based image with python3.11 and its venv module).
ARG PYTHON_IMAGE=python:3.11-slim

# The runtime dependencies and the build backend, as pyproject.toml lists them, alone in a
# file: the layer that installs them is reused for as long as that list is unchanged.
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); print(*p['project']['dependencies'], *p['build-system']['requires'], sep='\n')" > requirements.txt

FROM ${PYTHON_IMAGE} AS dependencies
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY --from=requirements /src/requirements.txt /opt/requirements.txt
# With the build backend in the venv, the code layer below installs offline, without build
# isolation.
RUN pip install -r /opt/requirements.txt

FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin okr
COPY --from=dependencies /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OKR_PORT=8000 \
    OKR_LOG_FORMAT=json \
    OKR_GRAPHIQL=false \
    OKR_INTROSPECTION=false
# The code: the only layer a code change rebuilds.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY migrations ./migrations
COPY service ./service
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf /src
WORKDIR /
USER 10001:10001
EXPOSE 8000
# Asks the port the server listens on: set OKR_PORT to move both (not `serve --port`).
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 \
    CMD ["okr-service", "healthcheck"]
ENTRYPOINT ["okr-service"]
# One replica: `serve --no-migrate` once `okr-service migrate` has run (see compose.yaml).
CMD ["serve", "--host", "0.0.0.0"]
