# triage-ingest image. Build from the repository root:
#   docker build -f deploy/images/ingest.Dockerfile -t social-triage/ingest .
FROM python:3.11-slim AS build
WORKDIR /src
COPY schemas/ schemas/
COPY runtime/ runtime/
COPY services/ingest/ services/ingest/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels ./schemas ./runtime ./services/ingest

FROM python:3.11-slim
RUN groupadd --system --gid 10001 triage \
 && useradd --system --uid 10001 --gid triage --no-create-home --shell /usr/sbin/nologin triage
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels triage-ingest \
 && rm -rf /wheels
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TRIAGE_INGEST_HTTP_HOST=0.0.0.0
USER 10001:10001
EXPOSE 8001
ENTRYPOINT ["triage-ingest"]
CMD ["serve"]
