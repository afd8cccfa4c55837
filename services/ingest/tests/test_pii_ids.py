"""Bank accounts, national IDs, secrets and street addresses: real formats, checksums and
near-misses that must not be flagged."""

import pytest

from triage_ingest.config import IngestSettings
from triage_ingest.pii import PiiDetector
from triage_ingest.pii_ids import dni_valid, iban_valid, nie_valid, nir_valid, ssn_valid
from triage_schemas.enums import PiiKind

detector = PiiDetector(IngestSettings().order_number_pattern)


def nir(body: str) -> str:
    """A French NIR with its key computed (2A/2B count as 19/18)."""
    digits = body.replace("2A", "19").replace("2B", "18") if body[5:7] in ("2A", "2B") else body
    return f"{body}{97 - int(digits) % 97:02d}"


VALID_NIR = nir("1850578006084")
CORSICAN_NIR = nir("26905" + "2A" + "123456")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("refund to FR76 3000 6000 0112 3456 7890 189 please", PiiKind.IBAN),
        ("my account GB82WEST12345698765432", PiiKind.IBAN),
        ("mi cuenta ES91 2100 0418 4502 0005 1332", PiiKind.IBAN),
        (
            f"mon numéro de sécu {VALID_NIR[0]} {VALID_NIR[1:3]} {VALID_NIR[3:5]} {VALID_NIR[5:7]} "
            f"{VALID_NIR[7:10]} {VALID_NIR[10:13]} {VALID_NIR[13:]}",
            PiiKind.NATIONAL_ID,
        ),
        (f"sécu {CORSICAN_NIR}", PiiKind.NATIONAL_ID),
        ("mi DNI es 12345678Z", PiiKind.NATIONAL_ID),
        ("NIE X-1234567-L para la factura", PiiKind.NATIONAL_ID),
        ("my SSN is 123-45-6789, fix my account", PiiKind.NATIONAL_ID),
        ("my password is Hunter2!! can you check", PiiKind.PASSWORD),
        ("mot de passe : soleil2024", PiiKind.PASSWORD),
        ("the verification code is 482913 and it does not work", PiiKind.PASSWORD),
        ("OTP 5521 expired again", PiiKind.PASSWORD),
        ("I live at 221B Baker Street, London", PiiKind.STREET_ADDRESS),
        ("send it to 12 rue de la Paix, Paris", PiiKind.STREET_ADDRESS),
        ("vivo en Calle Mayor 5, Madrid", PiiKind.STREET_ADDRESS),
        ("1600 Pennsylvania Ave is not my address", PiiKind.STREET_ADDRESS),
    ],
)
def test_each_kind_is_flagged_in_real_formats(text: str, kind: PiiKind) -> None:
    assert kind in detector.kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "refund to FR76 3000 6000 0112 3456 7890 188 please",  # IBAN with a wrong check
        "order AB12 3456 7890 1234 shipped",  # IBAN-shaped, not one
        f"ticket {VALID_NIR[:-2]}{(int(VALID_NIR[-2:]) + 1) % 97:02d}",  # NIR with a wrong key
        "pedido 12345678A",  # a DNI shape with the wrong letter
        "NIE X1234567A",  # wrong letter
        "ref 666-45-6789 and 123-00-6789",  # SSN areas and groups that are never issued
        "I forgot my password again",  # no password given
        "use discount code SPRING20",  # a promo code is no secret
        "we saw 3 street food stalls",  # a number before "street" is no address
        "I waited 2 days on the phone",
        "Rue 12 is a song",
    ],
)
def test_near_misses_are_not_flagged(text: str) -> None:
    found = set(detector.kinds(text)) & {
        PiiKind.IBAN, PiiKind.NATIONAL_ID, PiiKind.PASSWORD, PiiKind.STREET_ADDRESS
    }  # fmt: skip
    assert found == set(), text


def test_checksums() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert nir_valid(VALID_NIR) and nir_valid(CORSICAN_NIR) and not nir_valid(VALID_NIR[:-1] + "0")
    assert dni_valid("12345678Z") and not dni_valid("12345678A")
    assert nie_valid("X1234567L") and nie_valid("Y-1234567-X") is dni_valid("11234567X")
    assert ssn_valid("123-45-6789") and not ssn_valid("900-45-6789")


def test_an_account_number_is_not_also_taken_for_a_phone() -> None:
    assert detector.kinds("my SSN is 123-45-6789") == [PiiKind.NATIONAL_ID]
