# okr-service: non-root, configured by OKR_* (and OTEL_*) environment variables.
# Point it at a PostgreSQL with OKR_DATABASE_URL: the image never starts a database itself.
#
# Layers are ordered for the build cache: the dependencies are installed from
# pyproject.toml alone, so a change to the code rebuilds only the last, small layer
# (seconds), never the dependencies. compose.yaml runs it with its migration, replicas
# and a webhook worker.

FROM python:3.11-slim AS dependencies
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
# The project's runtime dependencies as pyproject.toml lists them (and the build backend,
# so the code layer below installs offline, without build isolation).
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt "setuptools>=69"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home okr
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
USER 10001
EXPOSE 8000
# Asks the port the server listens on: set OKR_PORT to move both (not `serve --port`).
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 \
    CMD ["okr-service", "healthcheck"]
ENTRYPOINT ["okr-service"]
# One replica: `serve --no-migrate` once `okr-service migrate` has run (see compose.yaml).
CMD ["serve", "--host", "0.0.0.0"]
