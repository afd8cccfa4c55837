"""Settings of the classifier service (env ``TRIAGE_CLASSIFIER_<FIELD>``)."""

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from triage_classifier.corpus import DEFAULT_CORPUS_DIR
from triage_classifier.guardrails import DEFAULT_GUARDRAILS
from triage_classifier.language import DEFAULT_CANDIDATES, DEFAULT_TRAINED, LanguagePolicy, known_languages
from triage_classifier.model import DEFAULT_MODEL_DIR
from triage_classifier.taxonomy import DEFAULT_TAXONOMY
from triage_runtime.settings import ServiceSettings


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_CLASSIFIER_", extra="ignore")

    consumer_group: str = Field(default="triage-classifier", description="Kafka consumer group")
    http_port: int = Field(default=8002, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
    batch_size: int = Field(default=500, ge=1, description="messages consumed and classified per batch")
    model_dir: Path = Field(default=DEFAULT_MODEL_DIR, description="where trained artifacts live (<dir>/<version>/)")
    model_version: str | None = Field(
        default=None, description="artifact to load; default: the one named in <model_dir>/CURRENT"
    )
    corpus_dir: Path = Field(default=DEFAULT_CORPUS_DIR, description="labelled corpus (*.jsonl) for training")
    taxonomy_file: Path = Field(default=DEFAULT_TAXONOMY, description="YAML: issue type to lane and priority")
    guardrails_file: Path = Field(default=DEFAULT_GUARDRAILS, description="YAML: reviewed P1 guardrail patterns")
    review_below: float = Field(
        default=0.55, ge=0.0, le=1.0, description="needs_review when the model's confidence is below this"
    )
    p1_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="answer P1 when the P1 types together are at least this likely; default: learned at training",
    )
    max_model_chars: int = Field(
        default=2000, ge=1, description="characters of a message the model reads; the record keeps them all"
    )
    language_candidates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CANDIDATES),
        min_length=1,
        description='languages the identifier may answer (ISO 639-1 codes), as JSON (["en", "fr", "de"]); '
        "a message is read as the likeliest of them",
    )
    trained_languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TRAINED),
        min_length=1,
        description="languages the model was trained on (the corpus's), as JSON; among the candidates. A message "
        "identified in another one needs review (language_not_trained:<code>)",
    )
    language_min_letters: int = Field(
        default=4,
        ge=1,
        description="a text with fewer letters (links, handles, digits and emoji aside) is too short to judge "
        "and needs review (too_short; none at all: no_words)",
    )
    language_min_confidence: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="the language is named when the identifier gives it at least this probability; below, it is "
        "null, and the message needs review if the likeliest candidate is an untrained language",
    )
    trained_language_prior: float = Field(
        default=3.0,
        ge=1.0,
        description="how many times likelier a trained language is than another candidate before the text is read "
        "(the inbox is mostly in them; a few words of Spanish can read as Portuguese)",
    )
    language_max_chars: int = Field(
        default=300, ge=1, description="characters of a message the language identifier reads"
    )

    @field_validator("language_candidates", "trained_languages")
    @classmethod
    def _known_languages(cls, codes: list[str], info: ValidationInfo) -> list[str]:
        codes = list(dict.fromkeys(code.strip().lower() for code in codes))
        unknown = sorted(set(codes) - known_languages())
        if unknown:
            raise ValueError(
                f"TRIAGE_CLASSIFIER_{(info.field_name or '').upper()}: the language identifier does not know "
                f"{', '.join(unknown)} (ISO 639-1 codes such as en, fr, es)"
            )
        if info.field_name == "trained_languages":
            missing = sorted(set(codes) - set(info.data.get("language_candidates", codes)))
            if missing:
                raise ValueError(
                    f"TRIAGE_CLASSIFIER_TRAINED_LANGUAGES: {', '.join(missing)} not among "
                    "TRIAGE_CLASSIFIER_LANGUAGE_CANDIDATES, so never identified"
                )
        return codes

    def language_policy(self) -> LanguagePolicy:
        return LanguagePolicy(
            candidates=tuple(self.language_candidates),
            trained=tuple(self.trained_languages),
            min_letters=self.language_min_letters,
            min_confidence=self.language_min_confidence,
            max_chars=self.language_max_chars,
            trained_prior=self.trained_language_prior,
        )
