"""Export the JSON Schema of every record to ``schemas/json/`` (``make schemas``)."""

import argparse
import json
import sys
from pathlib import Path

from triage_schemas.records import RECORD_MODELS


def rendered() -> dict[str, str]:
    """File name to file content for every record's JSON Schema."""
    return {
        f"{record_type}.schema.json": json.dumps(
            model.model_json_schema(mode="serialization"), indent=2, sort_keys=True
        )
        + "\n"
        for record_type, model in RECORD_MODELS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, content in rendered().items():
        path = args.directory / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print(f"stale JSON schemas (run make schemas): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
