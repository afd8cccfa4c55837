# triage-classifier image, carrying the model trained from the repository's corpus.
# Build from the repository root:
#   docker build -f deploy/images/classifier.Dockerfile -t social-triage/classifier .
FROM python:3.11-slim AS build
WORKDIR /src
COPY schemas/ schemas/
COPY runtime/ runtime/
COPY services/classifier/ services/classifier/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels ./schemas ./runtime ./services/classifier \
 && python -m pip install --no-cache-dir --no-index --find-links /wheels triage-classifier
# Training happens here so the image is reproducible from the commit and the final stage
# carries only the artifact, never the corpus.
RUN TRIAGE_CLASSIFIER_CORPUS_DIR=/src/services/classifier/data/corpus \
    TRIAGE_CLASSIFIER_MODEL_DIR=/models \
    triage-classifier train --jobs 2

FROM python:3.11-slim
RUN groupadd --system --gid 10001 triage \
 && useradd --system --uid 10001 --gid triage --no-create-home --shell /usr/sbin/nologin triage
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels triage-classifier \
 && rm -rf /wheels
COPY --from=build --chown=10001:10001 /models /opt/triage/models
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TRIAGE_CLASSIFIER_HTTP_HOST=0.0.0.0 \
    TRIAGE_CLASSIFIER_MODEL_DIR=/opt/triage/models
USER 10001:10001
EXPOSE 8002
ENTRYPOINT ["triage-classifier"]
CMD ["serve"]
